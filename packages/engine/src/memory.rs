//! How a process that runs the engine should treat freed memory.
//!
//! A pass returns every node's rows for every job: about 1 GB of `i32` values at batch 32
//! with 128-token MiniLM jobs, in blocks of up to 25 MB. glibc's allocator serves blocks that
//! large with fresh `mmap`s and unmaps them when they are freed, so the next pass faults and
//! zeroes all of it in again: a third of a batch-32 pass on the CPU backend, measured
//! (BENCHMARKS.md). A node runs pass after pass, so keeping the memory is what it wants.

/// Makes this process's allocator keep freed memory for reuse instead of returning it to the
/// operating system (glibc: no `mmap`ed blocks, no trimming of the heap). The process then
/// holds its peak memory until it exits. For binaries that run passes (the node, the load
/// tool, the benchmark), once at start, before the threads that allocate. Returns whether the
/// allocator took the setting; elsewhere than glibc it does nothing and returns false.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes glibc's allocation parameters; both are documented
        // settings with these values in range.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}
