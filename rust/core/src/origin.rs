//! Where and when a trace was recorded: its origin (host, process, and the instant
//! of its first event on the monotonic and the wall clock, read together), and the
//! sources (host, process) a merged trace's events came from.

use std::collections::HashMap;

/// The instant of a trace's first event, and where it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub host: String,
    pub pid: u32,
    /// `CLOCK_MONOTONIC` nanoseconds (what `time.monotonic_ns()` reads).
    pub monotonic_ns: u64,
    /// Unix nanoseconds (what `time.time_ns()` reads), read just after
    /// `monotonic_ns`.
    pub wall_ns: i64,
}

impl Origin {
    /// The origin of a trace whose first event was stamped `monotonic_ns` now, in
    /// this process.
    #[cold]
    pub fn here(monotonic_ns: u64) -> Origin {
        Origin {
            host: host_name(),
            pid: std::process::id(),
            monotonic_ns,
            wall_ns: wall_ns(),
        }
    }

    /// Whether this origin says when the trace ran. An origin whose clocks both
    /// read 0 (a trace loaded from a JSON export, which keeps no clock) does not:
    /// a merge lines such a trace up at the merged trace's start.
    pub fn is_anchored(&self) -> bool {
        self.monotonic_ns != 0 || self.wall_ns != 0
    }

    /// This origin moved `ns` nanoseconds earlier on both clocks.
    pub fn earlier_by(&self, ns: u64) -> Origin {
        Origin {
            host: self.host.clone(),
            pid: self.pid,
            monotonic_ns: self.monotonic_ns.saturating_sub(ns),
            wall_ns: self
                .wall_ns
                .saturating_sub(i64::try_from(ns).unwrap_or(i64::MAX)),
        }
    }

    /// What identifies a source in a merged trace.
    pub fn identity(&self) -> (&str, u32) {
        (&self.host, self.pid)
    }

    /// The name a viewer shows for this source: `host:pid`.
    pub fn display_name(&self) -> String {
        format!("{}:{}", self.host, self.pid)
    }
}

/// Unix time in nanoseconds.
pub fn wall_ns() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// This machine's host name, as Python's `socket.gethostname()` gives it.
#[cfg(unix)]
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its whole length; gethostname writes at most
    // that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

#[cfg(not(unix))]
pub fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

/// The sources of a restored or merged trace: who recorded each event.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    pub sources: Vec<Origin>,
    /// Source index of the event at each buffer index of the restored events.
    pub event_sources: Vec<u32>,
    /// Source of events beyond `event_sources` (recorded after the restore).
    pub own_source: u32,
}

impl Provenance {
    /// Sources saved with a trace whose origin is `origin`: events recorded after
    /// the restore belong to the origin's source (added when no event has it).
    pub fn restored(mut sources: Vec<Origin>, event_sources: Vec<u32>, origin: &Origin) -> Self {
        let own_source = match sources
            .iter()
            .position(|s| s.identity() == origin.identity())
        {
            Some(index) => index as u32,
            None => {
                sources.push(origin.clone());
                (sources.len() - 1) as u32
            }
        };
        Provenance {
            sources,
            event_sources,
            own_source,
        }
    }

    #[inline]
    pub fn source_of(&self, index: usize) -> u32 {
        self.event_sources
            .get(index)
            .copied()
            .unwrap_or(self.own_source)
    }
}

/// The distinct sources of a snapshot's events in order of first appearance, and
/// the map from each event's stored source index to its place in that list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sources {
    pub list: Vec<Origin>,
    /// Stored source index -> index into `list` (`u32::MAX`: not seen).
    remap: Vec<u32>,
}

impl Sources {
    /// Build from stored sources, visiting each event's stored index in snapshot
    /// order.
    pub fn collect(stored: &[Origin], events: impl Iterator<Item = u32>) -> Sources {
        let mut sources = Sources {
            list: Vec::new(),
            remap: vec![u32::MAX; stored.len()],
        };
        // Sources are told apart by (host, pid): two stored entries with the same
        // identity (a merge of two traces of one process) become one.
        let mut by_identity: HashMap<(&str, u32), u32> = HashMap::new();
        for raw in events {
            let slot = raw as usize;
            if slot >= stored.len() || sources.remap[slot] != u32::MAX {
                continue;
            }
            let origin = &stored[slot];
            let next = sources.list.len() as u32;
            let index = *by_identity.entry(origin.identity()).or_insert(next);
            if index == next {
                sources.list.push(origin.clone());
            }
            sources.remap[slot] = index;
        }
        sources
    }

    /// A single source for every event.
    pub fn single(origin: Origin) -> Sources {
        Sources {
            list: vec![origin],
            remap: vec![0],
        }
    }

    /// The index into `list` of stored source `raw`.
    #[inline]
    pub fn of(&self, raw: u32) -> u32 {
        self.remap.get(raw as usize).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(host: &str, pid: u32) -> Origin {
        Origin {
            host: host.into(),
            pid,
            monotonic_ns: 1,
            wall_ns: 2,
        }
    }

    #[test]
    fn here_reads_this_process() {
        let here = Origin::here(42);
        assert_eq!(here.pid, std::process::id());
        assert_eq!(here.monotonic_ns, 42);
        assert!(here.wall_ns > 1_600_000_000_000_000_000);
        assert_eq!(here.display_name(), format!("{}:{}", here.host, here.pid));
    }

    #[test]
    fn sources_in_order_of_first_appearance_by_identity() {
        let stored = [
            origin("a", 1),
            origin("b", 2),
            origin("a", 1), // same identity as the first
            origin("c", 3), // never used
        ];
        let sources = Sources::collect(&stored, [1u32, 1, 2, 0, 1].into_iter());
        assert_eq!(sources.list, vec![origin("b", 2), origin("a", 1)]);
        assert_eq!([0, 1, 2, 3].map(|raw| sources.of(raw)), [1, 0, 1, u32::MAX]);
    }
}
