//! Refuses, with words, to run on a CPU the binary was not built for.
//!
//! The whole binary is compiled for x86-64-v3 (`.cargo/config.toml`: AVX2, FMA, BMI1/2, LZCNT, MOVBE,
//! F16C; Intel Haswell, AMD Excavator and Zen, and later), so an older CPU would die at the first such
//! instruction with "Illegal instruction" and nothing else. The check runs before `main`, from the
//! ELF `.init_array` that the C runtime calls: `main` and everything it calls may use AVX anywhere
//! (even to copy a struct), while this function does integer work only (CPUID and XGETBV, bit tests,
//! libc's `write` and `_exit`). `std::is_x86_feature_detected!` cannot serve here: compiled for v3, it
//! answers "yes" at compile time. `tests/wheel/run.sh` disassembles the check to prove it uses no
//! vector register and runs the binary under QEMU as a CPU without AVX2.

use std::arch::x86_64::{__cpuid_count, CpuidResult};

/// The exit status of a refusal (a distinct status, so scripts can tell it from a failed run).
pub const EXIT_UNSUPPORTED_CPU: i32 = 7;

/// The x86-64-v3 features, each with where CPUID reports it: (leaf, register: 1 = ECX, 2 = EBX, bit).
const FEATURES: [(&str, u32, u8, u32); 8] = [
    ("AVX", 1, 1, 28),
    ("FMA", 1, 1, 12),
    ("MOVBE", 1, 1, 22),
    ("F16C", 1, 1, 29),
    ("AVX2", 7, 2, 5),
    ("BMI1", 7, 2, 3),
    ("BMI2", 7, 2, 8),
    ("LZCNT", 0x8000_0001, 1, 5),
];

// CPUID is a safe intrinsic in newer Rust and an unsafe one in older.
#[allow(unused_unsafe)]
fn cpuid(leaf: u32) -> CpuidResult {
    // SAFETY: CPUID exists on every x86-64 CPU; a leaf above the maximum returns zeros or the highest
    // basic leaf's values, and the callers check the maximum first.
    unsafe { __cpuid_count(leaf, 0) }
}

/// A bit per entry of [`FEATURES`] the CPU lacks, and bit 31 when the OS does not save the AVX state
/// (the instructions would fault even on a CPU that has them).
#[inline(never)]
pub fn missing_features() -> u32 {
    let max_basic = cpuid(0).eax;
    let max_extended = cpuid(0x8000_0000).eax;
    let mut missing = 0u32;
    let mut i = 0;
    while i < FEATURES.len() {
        let (_, leaf, register, bit) = FEATURES[i];
        let available = if leaf >= 0x8000_0000 { leaf <= max_extended } else { leaf <= max_basic };
        let word = if !available {
            0
        } else if register == 1 {
            cpuid(leaf).ecx
        } else {
            cpuid(leaf).ebx
        };
        if word & (1 << bit) == 0 {
            missing |= 1 << i;
        }
        i += 1;
    }
    // OSXSAVE (leaf 1, ECX bit 27) says XGETBV may be used; XCR0 bits 1 and 2: SSE and AVX state saved.
    let os_saves_avx = cpuid(1).ecx & (1 << 27) != 0 && {
        // SAFETY: XGETBV is available when OSXSAVE is set, as just checked.
        let xcr0 = unsafe { std::arch::x86_64::_xgetbv(0) };
        xcr0 & 0b110 == 0b110
    };
    // Said only of a CPU that has AVX: without it, the missing instructions are the news.
    if missing & 1 == 0 && !os_saves_avx {
        missing |= 1 << 31;
    }
    missing
}

fn say(text: &[u8]) {
    // SAFETY: writes `text.len()` bytes from a live slice to standard error; a failed write is ignored
    // (there is nowhere else to say it).
    unsafe {
        libc::write(2, text.as_ptr().cast(), text.len());
    }
}

extern "C" fn refuse_unsupported_cpu() {
    let missing = missing_features();
    if missing == 0 {
        return;
    }
    say(b"stabletune: this CPU cannot run this build. It is built for x86-64-v3 (Intel Haswell, AMD Excavator \
          and Zen, and later), and this CPU lacks:");
    let mut i = 0;
    while i < FEATURES.len() {
        if missing & (1 << i) != 0 {
            say(b" ");
            say(FEATURES[i].0.as_bytes());
        }
        i += 1;
    }
    if missing & (1 << 31) != 0 {
        say(b" (the operating system does not enable AVX)");
    }
    say(b".\nBuild stabletune from source for this CPU instead: remove `target-cpu=x86-64-v3` from \
          .cargo/config.toml and run `cargo build --release` (slower element-wise kernels, and numbers that may \
          differ in the last bits from this build's).\n");
    // SAFETY: ends the process before `main`, with nothing to unwind or flush.
    unsafe { libc::_exit(EXIT_UNSUPPORTED_CPU) }
}

/// Called by the C runtime before `main` (and before any of the binary's own vector code).
#[used]
#[link_section = ".init_array"]
static REFUSE_UNSUPPORTED_CPU: extern "C" fn() = refuse_unsupported_cpu;

#[cfg(test)]
mod tests {
    #[test]
    fn this_machine_has_what_the_build_needs() {
        // The tests run at all, so the CPU runs x86-64-v3 code: the check must agree.
        assert_eq!(super::missing_features(), 0);
    }
}
