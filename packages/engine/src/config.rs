//! The engine's one configuration struct, and how it is read from the environment.

use crate::error::EngineError;

/// Which backend runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// A hardware GPU through wgpu when there is one, otherwise the CPU backend. A software
    /// adapter (lavapipe) is skipped here: the CPU backend is about ten times faster.
    #[default]
    Auto,
    /// wgpu only, on the adapter that [`AdapterChoice`] names; an error when none opens.
    Wgpu,
    /// burn's CPU backend (flex).
    Cpu,
}

impl BackendChoice {
    pub fn parse(value: &str) -> Result<BackendChoice, EngineError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(BackendChoice::Auto),
            "wgpu" | "gpu" => Ok(BackendChoice::Wgpu),
            "cpu" | "flex" => Ok(BackendChoice::Cpu),
            _ => Err(EngineError::Config {
                field: "backend",
                value: value.into(),
                expected: "one of auto, wgpu, cpu",
            }),
        }
    }
}

/// Which wgpu adapter to open, in the words of [`burn::tensor::DeviceKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdapterChoice {
    /// wgpu's choice (a high-power GPU first); `CUBECL_WGPU_DEFAULT_DEVICE` overrides it.
    #[default]
    Default,
    Discrete(usize),
    Integrated(usize),
    Virtual(usize),
    /// A CPU adapter such as lavapipe.
    Cpu,
}

impl AdapterChoice {
    /// Reads `default`, `cpu`, or `discrete`, `integrated`, `virtual` with an optional
    /// `:index` (`discrete:1`).
    pub fn parse(value: &str) -> Result<AdapterChoice, EngineError> {
        let invalid = || EngineError::Config {
            field: "adapter",
            value: value.into(),
            expected: "default, cpu, or discrete|integrated|virtual[:index]",
        };
        let lower = value.trim().to_ascii_lowercase();
        let (kind, index) = match lower.split_once(':') {
            Some((kind, index)) => (kind, index.parse::<usize>().map_err(|_| invalid())?),
            None => (lower.as_str(), 0),
        };
        match kind {
            "default" | "" => Ok(AdapterChoice::Default),
            "cpu" => Ok(AdapterChoice::Cpu),
            "discrete" => Ok(AdapterChoice::Discrete(index)),
            "integrated" => Ok(AdapterChoice::Integrated(index)),
            "virtual" => Ok(AdapterChoice::Virtual(index)),
            _ => Err(invalid()),
        }
    }
}

/// Which kernels run a graph model (version 2) and how they accumulate integer products. All
/// give the same bytes; they differ in speed by backend. A version 1 chain runs on the CPU
/// kernels where they are chosen, and on burn's f32 operations otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProductChoice {
    /// The backend's default: the int8 kernels on the CPU, f32 slices on wgpu (see
    /// `device::auto_products` for what is measured).
    #[default]
    Auto,
    /// burn ops; products by burn's int32 matmul.
    Int,
    /// burn ops; products by f32 matmuls over inner slices whose partial sums stay below
    /// 2^24, summed in int32.
    FloatSlices,
    /// The engine's CPU kernels (CPU backend only): int8 products, for both model versions.
    CpuInt8,
}

impl ProductChoice {
    pub fn parse(value: &str) -> Result<ProductChoice, EngineError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(ProductChoice::Auto),
            "int" | "i32" => Ok(ProductChoice::Int),
            "f32" | "float" => Ok(ProductChoice::FloatSlices),
            "int8" | "cpu" => Ok(ProductChoice::CpuInt8),
            _ => Err(EngineError::Config {
                field: "products",
                value: value.into(),
                expected: "one of auto, int, f32, int8",
            }),
        }
    }
}

/// Everything the engine needs to know, loaded once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    pub backend: BackendChoice,
    pub adapter: AdapterChoice,
    /// Jobs per forward pass; longer job lists are split into passes of this size.
    pub max_batch: usize,
    /// Batch sizes run once when a model is loaded, so that kernel compilation and buffer
    /// allocation are paid there and not by the first jobs.
    pub warmup_batches: Vec<usize>,
    /// Graph models: how integer products are accumulated.
    pub products: ProductChoice,
    /// Graph models: the most padded values the largest node of one pass may hold (passes
    /// are split to stay below it; a single job always runs).
    pub pass_elements: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            backend: BackendChoice::Auto,
            adapter: AdapterChoice::Default,
            max_batch: 1024,
            warmup_batches: vec![1],
            products: ProductChoice::Auto,
            // 256 MiB of int32 values: MiniLM's attention logits of 341 jobs of 128 tokens.
            pass_elements: 1 << 26,
        }
    }
}

impl EngineConfig {
    /// The defaults, overridden by `TAVDUN_ENGINE_BACKEND`, `TAVDUN_ENGINE_ADAPTER`,
    /// `TAVDUN_ENGINE_MAX_BATCH` and `TAVDUN_ENGINE_PRODUCTS` where they are set.
    pub fn from_env() -> Result<EngineConfig, EngineError> {
        let mut config = EngineConfig::default();
        if let Ok(value) = std::env::var("TAVDUN_ENGINE_BACKEND") {
            config.backend = BackendChoice::parse(&value)?;
        }
        if let Ok(value) = std::env::var("TAVDUN_ENGINE_ADAPTER") {
            config.adapter = AdapterChoice::parse(&value)?;
        }
        if let Ok(value) = std::env::var("TAVDUN_ENGINE_MAX_BATCH") {
            config.max_batch =
                value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(EngineError::Config {
                        field: "max_batch",
                        value,
                        expected: "a positive integer",
                    })?;
        }
        if let Ok(value) = std::env::var("TAVDUN_ENGINE_PRODUCTS") {
            config.products = ProductChoice::parse(&value)?;
        }
        Ok(config)
    }

    pub fn with_backend(mut self, backend: BackendChoice) -> EngineConfig {
        self.backend = backend;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_adapter_choices() {
        assert_eq!(
            AdapterChoice::parse("discrete:1").unwrap(),
            AdapterChoice::Discrete(1)
        );
        assert_eq!(AdapterChoice::parse("CPU").unwrap(), AdapterChoice::Cpu);
        assert_eq!(
            AdapterChoice::parse("integrated").unwrap(),
            AdapterChoice::Integrated(0)
        );
        assert!(AdapterChoice::parse("discrete:x").is_err());
        assert!(AdapterChoice::parse("tpu").is_err());
    }

    #[test]
    fn parses_backend_choices() {
        assert_eq!(BackendChoice::parse("flex").unwrap(), BackendChoice::Cpu);
        assert_eq!(BackendChoice::parse("wgpu").unwrap(), BackendChoice::Wgpu);
        assert!(BackendChoice::parse("cuda").is_err());
    }

    #[test]
    fn parses_product_choices() {
        assert_eq!(ProductChoice::parse("int").unwrap(), ProductChoice::Int);
        assert_eq!(
            ProductChoice::parse(" F32 ").unwrap(),
            ProductChoice::FloatSlices
        );
        assert_eq!(
            ProductChoice::parse("int8").unwrap(),
            ProductChoice::CpuInt8
        );
        assert!(ProductChoice::parse("f16").is_err());
    }
}
