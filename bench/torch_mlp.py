"""PyTorch peer of engine-bench: the same int8-valued MLP in f32 on the CPU, same ops
(matmul + bias, power-of-two scale, floor, clamp), every layer's output read into numpy.

Usage: torch_mlp.py MODEL_DIR BATCHES SECONDS (engine-bench writes MODEL_DIR)."""
import json
import sys
import time

import numpy as np
import torch


def main():
    model_dir, batches, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    index = json.load(open(f"{model_dir}/model.json"))
    torch.set_num_threads(index["threads"])
    torch.set_num_interop_threads(1)
    layers = []
    for l in index["layers"]:
        w = np.fromfile(f"{model_dir}/{l['name']}.w", dtype=np.int8).astype(np.float32)
        b = np.fromfile(f"{model_dir}/{l['name']}.b", dtype=np.int32).astype(np.int64)
        shift = l["shift"]
        rounding = (1 << (shift - 1)) if shift > 0 else 0
        weight = torch.from_numpy(w.reshape(l["units"], l["fan_in"])).t().contiguous()
        bias = torch.from_numpy((b + rounding).astype(np.float32))
        lower = 0.0 if l["relu"] else -128.0
        layers.append((weight, bias, 1.0 / (1 << shift), lower))
    inputs = np.fromfile(f"{model_dir}/inputs.bin", dtype=np.int8).astype(np.float32)
    inputs = torch.from_numpy(inputs.reshape(-1, index["input_len"]))
    info = f"torch {torch.__version__}, {torch.get_num_threads()} threads, " \
           f"MKL {torch.backends.mkl.is_available()}, oneDNN {torch.backends.mkldnn.is_available()}"
    print(json.dumps({"info": info}), flush=True)

    def one_pass(x):
        h = x
        for weight, bias, scale, lower in layers:
            h = torch.addmm(bias, h, weight).mul_(scale).floor_().clamp_(lower, 127.0)
            h.numpy().sum()  # every layer's bytes touched on the host, as the engine's are
        return h

    with torch.inference_mode():
        for batch in (int(b) for b in batches.split(",")):
            x = inputs[:batch].contiguous()
            one_pass(x)
            passes, start = 0, time.perf_counter()
            while passes < 3 or time.perf_counter() - start < seconds:
                one_pass(x)
                passes += 1
            elapsed = time.perf_counter() - start
            print(json.dumps({"runner": "PyTorch", "batch": batch,
                              "per_s": passes * batch / elapsed}), flush=True)


if __name__ == "__main__":
    main()
