//! Opening a device and describing the hardware behind it, for the worker to declare.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, PoisonError};

use burn::tensor::wgpu::wgpu;
use burn::tensor::{Device, DeviceKind};

use crate::config::{AdapterChoice, BackendChoice, EngineConfig, ProductChoice};
use crate::error::EngineError;
use crate::graph::products::ProductStrategy;

/// The backend a model runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Wgpu,
    /// burn's pure-Rust CPU backend.
    Flex,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Wgpu => "wgpu",
            Backend::Flex => "flex",
        }
    }
}

/// What kind of processor runs the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    DiscreteGpu,
    IntegratedGpu,
    VirtualGpu,
    /// The host CPU, or a software rasteriser such as lavapipe.
    Cpu,
    Other,
}

impl From<wgpu::DeviceType> for DeviceType {
    fn from(kind: wgpu::DeviceType) -> Self {
        match kind {
            wgpu::DeviceType::DiscreteGpu => DeviceType::DiscreteGpu,
            wgpu::DeviceType::IntegratedGpu => DeviceType::IntegratedGpu,
            wgpu::DeviceType::VirtualGpu => DeviceType::VirtualGpu,
            wgpu::DeviceType::Cpu => DeviceType::Cpu,
            wgpu::DeviceType::Other => DeviceType::Other,
        }
    }
}

/// The device an engine runs on, described for logs, benchmarks and the hardware a worker
/// declares to the market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceReport {
    pub backend: Backend,
    /// The graphics API under wgpu (`Vulkan`, `Gl`, ...), or `cpu` for flex.
    pub api: String,
    /// The adapter's name (`NVIDIA H100`, `llvmpipe (LLVM 19.1.7, 256 bits)`), or the CPU model.
    pub adapter: String,
    pub device_type: DeviceType,
    pub driver: String,
    /// Largest single buffer the adapter allows (wgpu only).
    pub max_buffer_bytes: Option<u64>,
    /// Largest storage binding one kernel may read (wgpu only).
    pub max_binding_bytes: Option<u64>,
    /// Host memory (flex works in it; wgpu reports no device memory size).
    pub host_memory_bytes: Option<u64>,
    pub cpu_threads: usize,
    /// Why the CPU backend runs although wgpu was tried (`backend = auto`).
    pub fallback_reason: Option<String>,
    /// Which kernels run graph models (version 2) on this device, and how they accumulate
    /// integer products. With the CPU kernels, version 1 chains run on them too; otherwise
    /// on burn's f32 operations.
    pub graph_products: ProductStrategy,
}

impl fmt::Display for DeviceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) on {} [{:?}",
            self.backend.name(),
            self.api,
            self.adapter,
            self.device_type
        )?;
        if let Some(bytes) = self.max_buffer_bytes {
            write!(f, ", max buffer {} MiB", bytes >> 20)?;
        }
        if let Some(bytes) = self.host_memory_bytes {
            write!(f, ", host memory {} MiB", bytes >> 20)?;
        }
        write!(
            f,
            ", {} CPU threads, products: {}]",
            self.cpu_threads,
            self.graph_products.name()
        )?;
        if let Some(reason) = &self.fallback_reason {
            write!(f, " (CPU fallback: {reason})")?;
        }
        Ok(())
    }
}

/// Opens the device the configuration asks for.
pub(crate) fn open(config: &EngineConfig) -> Result<(Device, DeviceReport), EngineError> {
    let (device, mut report) = open_backend(config)?;
    report.graph_products = match (config.products, report.backend) {
        (ProductChoice::Int, _) => ProductStrategy::Int,
        (ProductChoice::FloatSlices, _) => ProductStrategy::FloatSlices,
        (ProductChoice::CpuInt8, Backend::Flex) => ProductStrategy::CpuInt8,
        (ProductChoice::CpuInt8, Backend::Wgpu) => {
            return Err(EngineError::Config {
                field: "products",
                value: "int8".into(),
                expected: "auto, int or f32 on wgpu: the int8 kernels run on the CPU only",
            })
        }
        (ProductChoice::Auto, backend) => auto_products(backend),
    };
    Ok((device, report))
}

/// The kernels each backend runs by default. On the CPU the int8 kernels are the fastest as
/// measured (BENCHMARKS.md, "MiniLM"). On wgpu f32 slices are chosen for hardware GPUs, whose
/// f32 matmuls outrun their int32 ones; that is not measured yet (no GPU was lent), and on
/// lavapipe one loaded run had int32 products faster (13.6 s against 18.7 s for 8 x 128
/// tokens), so lavapipe may deserve `int` once measured on an idle machine.
fn auto_products(backend: Backend) -> ProductStrategy {
    match backend {
        Backend::Flex => ProductStrategy::CpuInt8,
        Backend::Wgpu => ProductStrategy::FloatSlices,
    }
}

fn open_backend(config: &EngineConfig) -> Result<(Device, DeviceReport), EngineError> {
    match config.backend {
        BackendChoice::Cpu => Ok(open_flex(None)),
        BackendChoice::Wgpu => open_wgpu(config.adapter),
        BackendChoice::Auto => match open_wgpu(config.adapter) {
            Ok((_, hw)) if hw.device_type == DeviceType::Cpu => Ok(open_flex(Some(format!(
                "the only wgpu adapter, {}, is a software one",
                hw.adapter
            )))),
            Ok(opened) => Ok(opened),
            Err(err) => Ok(open_flex(Some(err.to_string()))),
        },
    }
}

fn open_flex(fallback_reason: Option<String>) -> (Device, DeviceReport) {
    let report = DeviceReport {
        backend: Backend::Flex,
        api: "cpu".into(),
        adapter: cpu_model().unwrap_or_else(|| std::env::consts::ARCH.into()),
        device_type: DeviceType::Cpu,
        driver: "burn-flex".into(),
        max_buffer_bytes: None,
        max_binding_bytes: None,
        host_memory_bytes: host_memory(),
        cpu_threads: cpu_threads(),
        fallback_reason,
        graph_products: ProductStrategy::Int,
    };
    (Device::flex(), report)
}

/// A wgpu runtime can be initialised once per process and adapter selector; later engines
/// share the first one's device (and its compiled kernels).
type Opened = (
    AdapterChoice,
    Result<(Device, DeviceReport), (String, String)>,
);
static OPENED: Mutex<Vec<Opened>> = Mutex::new(Vec::new());

fn open_wgpu(choice: AdapterChoice) -> Result<(Device, DeviceReport), EngineError> {
    let mut opened = OPENED.lock().unwrap_or_else(PoisonError::into_inner);
    let result = match opened.iter().find(|(c, _)| *c == choice) {
        Some((_, result)) => result.clone(),
        None => {
            let result = init_wgpu(choice);
            opened.push((choice, result.clone()));
            result
        }
    };
    result.map_err(|(selector, reason)| EngineError::NoAdapter { selector, reason })
}

fn init_wgpu(choice: AdapterChoice) -> Result<(Device, DeviceReport), (String, String)> {
    let kind = match choice {
        AdapterChoice::Default => DeviceKind::DefaultDevice,
        AdapterChoice::Discrete(i) => DeviceKind::DiscreteGpu(i),
        AdapterChoice::Integrated(i) => DeviceKind::IntegratedGpu(i),
        AdapterChoice::Virtual(i) => DeviceKind::VirtualGpu(i),
        AdapterChoice::Cpu => DeviceKind::Cpu,
    };
    let selector = format!("{kind:?}");
    // Some runtimes report a missing adapter by panicking on their device thread instead of
    // returning an error; either way the caller gets a typed error and may fall back.
    let init = catch_unwind(AssertUnwindSafe(|| {
        Device::wgpu_options().device_kind(kind).init_with_setup()
    }));
    let (device, setup) = match init {
        Ok(Ok(opened)) => opened,
        Ok(Err(err)) => return Err((selector, err.to_string())),
        Err(panic) => return Err((selector, panic_message(panic.as_ref()))),
    };
    let info = setup.adapter.get_info();
    let limits = setup.adapter.limits();
    let report = DeviceReport {
        backend: Backend::Wgpu,
        api: format!("{:?}", setup.backend),
        adapter: info.name,
        device_type: info.device_type.into(),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        max_buffer_bytes: Some(limits.max_buffer_size),
        max_binding_bytes: Some(limits.max_storage_buffer_binding_size),
        host_memory_bytes: host_memory(),
        cpu_threads: cpu_threads(),
        fallback_reason: None,
        graph_products: ProductStrategy::Int,
    };
    Ok((device, report))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the wgpu runtime panicked".into())
}

fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, name)| name.trim().to_string())
}

fn host_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
