//! Graph analysis for profiling a run: a DAG in compressed adjacency form (CSR) with
//! a topological order, and the passes `dagron.profile_execution` and
//! `DAG.critical_path` need: the forward and backward schedule (earliest and latest
//! start), the critical path, descendant counts, a top-k ranking, and what a run's
//! recorded times say (the observed critical path, scheduling delays, idle time).
//!
//! Nodes are `u32` indices. Every pass is O(V + E) except `descendant_counts` (see
//! there). No Python types here: `py::graph` converts.
//!
//! One file per pass: `dag` (the graph and its level order), `schedule` (forward
//! and backward schedule, critical path), `descendants` (descendant counts),
//! `rank` (top-k), `observed` (recorded figures). This file only lists them.

mod dag;
mod descendants;
mod observed;
mod rank;
mod schedule;

pub use dag::{Graph, GraphError};
pub use observed::Observed;
pub use rank::top_k;
pub use schedule::Schedule;

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph from `(from, to)` edges over `count` nodes, in index order.
    fn graph(count: usize, edges: &[(u32, u32)]) -> Graph {
        let mut lists = vec![Vec::new(); count];
        for &(from, to) in edges {
            lists[from as usize].push(to);
        }
        let mut starts = vec![0u32];
        let mut flat = Vec::new();
        for list in lists {
            flat.extend(list);
            starts.push(flat.len() as u32);
        }
        Graph::new(starts, flat).unwrap()
    }

    fn naive_counts(g: &Graph, counted: &[bool]) -> Vec<u64> {
        (0..g.node_count() as u32)
            .map(|v| {
                let mut seen = vec![false; g.node_count()];
                let mut stack = vec![v];
                while let Some(u) = stack.pop() {
                    for &s in g.successors(u) {
                        if !seen[s as usize] {
                            seen[s as usize] = true;
                            stack.push(s);
                        }
                    }
                }
                (0..g.node_count())
                    .filter(|&u| seen[u] && counted[u])
                    .count() as u64
            })
            .collect()
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            Graph::new(vec![0, 1, 1], vec![5]).err(),
            Some(GraphError::NodeOutOfRange {
                node: 5,
                node_count: 2
            })
        );
        assert_eq!(
            Graph::new(vec![0, 1, 2], vec![1, 0]).err(),
            Some(GraphError::Cycle)
        );
        assert_eq!(
            Graph::new(vec![0, 2, 1], vec![1]).err(),
            Some(GraphError::Malformed)
        );
    }

    #[test]
    fn level_order_and_widest_level() {
        // 3 -> 1 -> 0, 3 -> 2, 4 alone: levels [3, 4], [1, 2], [0].
        let g = graph(5, &[(3, 1), (1, 0), (3, 2)]);
        assert_eq!(g.order(), &[3, 4, 1, 2, 0]);
        assert_eq!(g.widest_level(&[true; 5]), 2);
        assert_eq!(g.widest_level(&[true, true, false, true, false]), 1);
        assert_eq!(graph(0, &[]).widest_level(&[]), 0);
    }

    #[test]
    fn slack_of_a_critical_node_is_not_negative_through_rounding() {
        // a -> b -> d, a -> c -> d with durations for which (e + d) - d rounds below e.
        let graph = graph(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        let mut found = false;
        for k in 0..2000u32 {
            let x = f64::from(k) * 1e-5;
            let durations = [0.05 + x, 0.0507 + x / 3.0, 0.0503, 0.05 + x / 7.0];
            let s = graph.schedule(&durations, &[true; 4]);
            for v in 0..4 {
                assert!(s.slack[v] >= 0.0, "slack {} of node {v}", s.slack[v]);
                assert!(s.latest_start[v] >= s.earliest_start[v]);
            }
            // Without the clamp, the unrounded value would have been negative here.
            let raw = (s.makespan - durations[3] - durations[1]) - durations[0];
            found |= raw < 0.0;
        }
        assert!(found, "no rounding case among the durations tried");
    }

    #[test]
    fn diamond_schedule_and_critical_path() {
        // a -> b -> d, a -> c -> d; b is the long branch.
        let g = graph(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        let duration = [1.0, 5.0, 2.0, 1.0];
        let all = [true; 4];
        let s = g.schedule(&duration, &all);
        assert_eq!(s.earliest_start, vec![0.0, 1.0, 1.0, 6.0]);
        assert_eq!(s.makespan, 7.0);
        assert_eq!(s.latest_start, vec![0.0, 1.0, 4.0, 6.0]);
        assert_eq!(s.slack, vec![0.0, 0.0, 3.0, 0.0]);
        let (path, total) = g.critical_path(&duration, &all, |a, b| a < b);
        assert_eq!((path, total), (vec![0, 1, 3], 7.0));
        // Without b, c carries the path.
        let some = [true, false, true, true];
        let s = g.schedule(&duration, &some);
        assert_eq!(s.makespan, 4.0);
        assert!(s.earliest_start[1].is_nan());
        assert_eq!(
            g.critical_path(&duration, &some, |a, b| a < b),
            (vec![0, 2, 3], 4.0)
        );
    }

    #[test]
    fn critical_path_ties_follow_preference() {
        let g = graph(4, &[(0, 2), (1, 2), (2, 3)]);
        let cost = [1.0; 4];
        let all = [true; 4];
        assert_eq!(g.critical_path(&cost, &all, |a, b| a < b).0, vec![0, 2, 3]);
        assert_eq!(g.critical_path(&cost, &all, |a, b| a > b).0, vec![1, 2, 3]);
        assert_eq!(
            g.critical_path(&cost, &[false; 4], |_, _| false),
            (vec![], 0.0)
        );
    }

    #[test]
    fn descendant_counts_match_search_on_fixed_shapes() {
        // A layered graph that fans back in, a chain, a tree, and disjoint chains.
        let mut edges = Vec::new();
        for layer in 0..20u32 {
            for i in 0..10u32 {
                let v = layer * 10 + i;
                edges.push((v, (layer + 1) * 10 + (i * 7 + 3) % 10));
                edges.push((v, (layer + 1) * 10 + (i * 3 + 1) % 10));
            }
        }
        let layered = graph(210, &edges);
        let chain = graph(100, &(0..99).map(|v| (v, v + 1)).collect::<Vec<_>>());
        let tree = graph(127, &(1..127).map(|v| ((v - 1) / 2, v)).collect::<Vec<_>>());
        // Ten chains of 30, interleaved in the order (never closing into a suffix).
        let chains = graph(300, &(0..290).map(|v| (v, v + 10)).collect::<Vec<_>>());
        for g in [&layered, &chain, &tree, &chains] {
            let all = vec![true; g.node_count()];
            assert_eq!(g.descendant_counts(&all), naive_counts(g, &all));
            let some: Vec<bool> = (0..g.node_count()).map(|v| v % 3 != 1).collect();
            assert_eq!(g.descendant_counts(&some), naive_counts(g, &some));
        }
        assert_eq!(chain.descendant_counts(&[true; 100])[0], 99);
    }

    #[test]
    fn descendant_counts_match_search_on_random_graphs() {
        // A small xorshift generator: edges forward in index order, varied density.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..200 {
            let count = (next() % 150 + 1) as usize;
            let edge_count = (next() % (count as u64 * (1 + round % 4))) as usize;
            let mut edges = Vec::new();
            for _ in 0..edge_count {
                let a = (next() % count as u64) as u32;
                let b = (next() % count as u64) as u32;
                if a != b {
                    edges.push((a.min(b), a.max(b)));
                }
            }
            edges.sort_unstable();
            edges.dedup();
            let g = graph(count, &edges);
            let counted: Vec<bool> = (0..count).map(|_| next() % 4 != 0).collect();
            assert_eq!(g.descendant_counts(&counted), naive_counts(&g, &counted));
        }
    }

    #[test]
    fn top_k_keeps_order_on_ties() {
        let order = [3, 0, 1, 2, 4];
        let score = [2.0, 5.0, 5.0, 1.0, 2.0];
        let included = [true, true, true, true, false];
        assert_eq!(top_k(&order, &score, &included, 3), vec![1, 2, 0]);
        assert_eq!(top_k(&order, &score, &included, 10), vec![1, 2, 0, 3]);
        assert_eq!(top_k(&order, &score, &included, 0), Vec::<u32>::new());
    }

    #[test]
    fn observe_follows_the_last_finishing_predecessor() {
        // a(0-1) -> c(2-4); b(0-1.5) -> c; c -> d(4.5-6); e(0-0.5) alone.
        let g = graph(5, &[(0, 2), (1, 2), (2, 3)]);
        let start = [0.0, 0.0, 2.0, 4.5, 0.0];
        let end = [1.0, 1.5, 4.0, 6.0, 0.5];
        let seen = g.observe(&start, &end, 0.0, 7.0);
        assert_eq!(seen.critical_path, vec![1, 2, 3]);
        assert_eq!(seen.scheduling_delay, vec![0.0, 0.0, 0.5, 0.5, 0.0]);
        // Running: 0-1.5, 2-4, 4.5-6 -> covered 5 of 7.
        assert_eq!(seen.idle, 2.0);
        // A node that never ended runs to the run's end; one that never started has
        // no delay.
        let start = [0.0, f64::NAN, f64::NAN, f64::NAN, 1.0];
        let end = [1.0, f64::NAN, f64::NAN, f64::NAN, f64::NAN];
        let seen = g.observe(&start, &end, 0.0, 3.0);
        assert_eq!(seen.critical_path, vec![0]);
        assert!(seen.scheduling_delay[1].is_nan());
        assert_eq!(seen.idle, 0.0);
    }
}
