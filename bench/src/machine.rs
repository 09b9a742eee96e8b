//! The machine's f32 peak, computed from what the CPU reports.

use std::fmt;

pub struct Peak {
    pub cores: usize,
    pub ghz: f64,
    pub flop_per_cycle: u32,
    pub gflops: f64,
    pub model: String,
}

impl fmt::Display for Peak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: f32 peak {} cores x {:.2} GHz x {} FLOP/cycle = {:.0} GFLOP/s",
            self.model, self.cores, self.ghz, self.flop_per_cycle, self.gflops
        )
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `cores x clock x FLOP/cycle`, where FLOP/cycle assumes two FMA pipes of the widest vector
/// the CPU executes at full rate: 256-bit with AVX2 (and on AMD Zen 4, whose AVX-512 is two
/// 256-bit halves): 2 x 8 lanes x 2 = 32. The clock is what /proc/cpuinfo reports (under a
/// hypervisor, the nominal clock: turbo can exceed it).
pub fn f32_peak() -> Peak {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let mhz: f64 = field("cpu MHz").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let flags = field("flags").unwrap_or_default();
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    let amd = field("vendor_id").is_some_and(|v| v.contains("AMD"));
    let flop_per_cycle = if has("avx512f") && !amd {
        64
    } else if has("fma") {
        32
    } else {
        16
    };
    let cores = cores();
    let ghz = mhz / 1000.0;
    Peak {
        cores,
        ghz,
        flop_per_cycle,
        gflops: cores as f64 * ghz * f64::from(flop_per_cycle),
        model: field("model name").unwrap_or_else(|| "unknown CPU".into()),
    }
}
