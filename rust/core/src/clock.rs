//! Monotonic timestamps on the clock Python's `time.monotonic()` reads.

/// Nanoseconds on `CLOCK_MONOTONIC` (what `time.monotonic()` reads on Linux and
/// macOS). Never goes backwards, also across threads.
#[cfg(unix)]
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    debug_assert_eq!(rc, 0);
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

/// Elsewhere: nanoseconds since the first call, on the platform's monotonic clock.
#[cfg(not(unix))]
#[inline]
pub fn monotonic_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

/// Seconds from clock reading `start` to `end` (0 if `end` is earlier: a thread that
/// read the clock just before another one set `start`).
#[inline]
pub fn seconds_between(start: u64, end: u64) -> f64 {
    end.saturating_sub(start) as f64 / 1e9
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_goes_backwards() {
        let mut last = super::monotonic_ns();
        for _ in 0..10_000 {
            let now = super::monotonic_ns();
            assert!(now >= last);
            last = now;
        }
    }
}
