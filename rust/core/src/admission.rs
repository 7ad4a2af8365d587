//! How many events one generation of a bounded trace admits: a limit and a count of
//! places taken, claimed by compare-and-swap so that concurrent writers never
//! overfill it. A leaf: `trace` keeps one per core, `bounded` decides what to do
//! when a generation is full.

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

/// At most `limit` events (`usize::MAX`: unbounded, nothing counted).
pub struct AdmissionLimit {
    limit: usize,
    admitted: AtomicUsize,
}

impl AdmissionLimit {
    /// No limit: every event is admitted, and none is counted.
    pub const fn unbounded() -> Self {
        Self::new(usize::MAX)
    }

    pub const fn new(limit: usize) -> Self {
        AdmissionLimit {
            limit,
            admitted: AtomicUsize::new(0),
        }
    }

    #[inline]
    pub fn limit(&self) -> usize {
        self.limit
    }

    #[inline]
    pub fn is_bounded(&self) -> bool {
        self.limit != usize::MAX
    }

    /// Take one of the `limit` places; false when all are taken.
    #[inline]
    pub fn admit(&self) -> bool {
        let mut admitted = self.admitted.load(Relaxed);
        loop {
            if admitted >= self.limit {
                return false;
            }
            match self
                .admitted
                .compare_exchange_weak(admitted, admitted + 1, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => admitted = now,
            }
        }
    }

    /// Count `count` places as taken (by restored events), if they fit.
    pub fn take(&self, count: usize) -> bool {
        if count > self.limit {
            return false;
        }
        self.admitted.store(count, Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit() {
        let limit = AdmissionLimit::new(3);
        assert!(limit.is_bounded());
        assert_eq!([limit.admit(), limit.admit(), limit.admit()], [true; 3]);
        assert!(!limit.admit());
        let restored = AdmissionLimit::new(3);
        assert!(!restored.take(4));
        assert!(restored.take(2));
        assert_eq!([restored.admit(), restored.admit()], [true, false]);
        assert!(!AdmissionLimit::unbounded().is_bounded());
    }

    #[test]
    fn threads_never_overfill() {
        let limit = std::sync::Arc::new(AdmissionLimit::new(1000));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let limit = std::sync::Arc::clone(&limit);
                std::thread::spawn(move || (0..500).filter(|_| limit.admit()).count())
            })
            .collect();
        let admitted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(admitted, 1000);
    }
}
