//! Graph analysis for profiling a run: a DAG in compressed adjacency form (CSR) with
//! a topological order, and the passes `dagron.profile_execution` and
//! `DAG.critical_path` need: the forward and backward schedule (earliest and latest
//! start), the critical path, descendant counts, a top-k ranking, and what a run's
//! recorded times say (the observed critical path, scheduling delays, idle time).
//!
//! Nodes are `u32` indices. Every pass is O(V + E) except `descendant_counts` (see
//! there). No Python types here: `py::graph` converts.

use std::cmp::Ordering;

/// Why a graph could not be built from the arrays given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// An edge or order entry names a node outside `0..node_count`.
    NodeOutOfRange { node: u64, node_count: usize },
    /// The successor-list starts do not describe the successor array.
    Malformed,
    /// The edges close a cycle.
    Cycle,
    /// More than `u32::MAX` nodes or edges.
    TooLarge,
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphError::NodeOutOfRange { node, node_count } => {
                write!(
                    f,
                    "node index {node} is out of range for {node_count} nodes"
                )
            }
            GraphError::Malformed => f.write_str("successor list starts do not fit the array"),
            GraphError::Cycle => f.write_str("the edges close a cycle"),
            GraphError::TooLarge => f.write_str("more than 2**32 - 1 nodes or edges"),
        }
    }
}

/// A DAG: successor and predecessor lists in CSR form, and its nodes in level order.
pub struct Graph {
    succ_start: Vec<u32>,
    succ: Vec<u32>,
    pred_start: Vec<u32>,
    pred: Vec<u32>,
    order: Vec<u32>,
    /// `position[v]`: where node `v` stands in `order`.
    position: Vec<u32>,
    /// Level `k` is `order[level_start[k]..level_start[k + 1]]`.
    level_start: Vec<u32>,
}

/// Earliest start, latest start and slack (latest minus earliest) of each included
/// node (NaN for the others), and the makespan: the latest earliest finish.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub earliest_start: Vec<f64>,
    pub latest_start: Vec<f64>,
    pub slack: Vec<f64>,
    pub makespan: f64,
}

/// What a run's recorded start and end times say.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The chain of nodes that decided the run's length, first to last.
    pub critical_path: Vec<u32>,
    /// Per node: start minus the latest end among its predecessors (minus the run's
    /// start for a node without an ended predecessor); NaN for nodes that never started.
    pub scheduling_delay: Vec<f64>,
    /// Seconds of the run during which no node was running.
    pub idle: f64,
}

impl Graph {
    /// A graph of `succ_start.len() - 1` nodes where node `v`'s successors are
    /// `succ[succ_start[v]..succ_start[v + 1]]`. Its order is by levels, as the
    /// executor's steps: level `k` holds the nodes whose longest path from a root has
    /// `k` edges, each level in index order.
    pub fn new(succ_start: Vec<u32>, succ: Vec<u32>) -> Result<Self, GraphError> {
        let node_count = succ_start.len().saturating_sub(1);
        if node_count >= u32::MAX as usize || succ.len() >= u32::MAX as usize {
            return Err(GraphError::TooLarge);
        }
        let well_formed = succ_start.first().is_none_or(|&first| first == 0)
            && succ_start.windows(2).all(|pair| pair[0] <= pair[1])
            && succ_start
                .last()
                .is_none_or(|&last| last as usize == succ.len());
        if !well_formed {
            return Err(GraphError::Malformed);
        }
        let mut in_degree = vec![0u32; node_count + 1];
        for &to in &succ {
            if to as usize >= node_count {
                return Err(GraphError::NodeOutOfRange {
                    node: to.into(),
                    node_count,
                });
            }
            in_degree[to as usize + 1] += 1;
        }
        // Prefix sums give the predecessor lists' starts; fill them in node order, so
        // each list is in index order.
        let mut pred_start = in_degree;
        for v in 0..node_count {
            pred_start[v + 1] += pred_start[v];
        }
        let mut fill = pred_start.clone();
        let mut pred = vec![0u32; succ.len()];
        for from in 0..node_count {
            for &to in &succ[succ_start[from] as usize..succ_start[from + 1] as usize] {
                pred[fill[to as usize] as usize] = from as u32;
                fill[to as usize] += 1;
            }
        }
        // Kahn's algorithm, keeping each node's longest distance from a root.
        let mut waiting: Vec<u32> = (0..node_count)
            .map(|v| pred_start[v + 1] - pred_start[v])
            .collect();
        let mut depth = vec![0u32; node_count];
        let mut queue: Vec<u32> = (0..node_count as u32)
            .filter(|&v| waiting[v as usize] == 0)
            .collect();
        let mut head = 0;
        while let Some(&v) = queue.get(head) {
            head += 1;
            let below = depth[v as usize] + 1;
            for &s in &succ[succ_start[v as usize] as usize..succ_start[v as usize + 1] as usize] {
                depth[s as usize] = depth[s as usize].max(below);
                waiting[s as usize] -= 1;
                if waiting[s as usize] == 0 {
                    queue.push(s);
                }
            }
        }
        if queue.len() != node_count {
            return Err(GraphError::Cycle);
        }
        // A counting sort by depth, stable in index order.
        let levels = depth
            .iter()
            .max()
            .map_or(0, |&deepest| deepest as usize + 1);
        let mut level_start = vec![0u32; levels + 1];
        for &d in &depth {
            level_start[d as usize + 1] += 1;
        }
        for k in 0..levels {
            level_start[k + 1] += level_start[k];
        }
        let mut next = level_start.clone();
        let mut order = vec![0u32; node_count];
        let mut position = vec![0u32; node_count];
        for (v, &d) in depth.iter().enumerate() {
            let at = next[d as usize];
            next[d as usize] += 1;
            order[at as usize] = v as u32;
            position[v] = at;
        }
        Ok(Graph {
            succ_start,
            succ,
            pred_start,
            pred,
            order,
            position,
            level_start,
        })
    }

    /// The most `included` nodes in one level.
    pub fn widest_level(&self, included: &[bool]) -> usize {
        self.level_start
            .windows(2)
            .map(|level| {
                self.order[level[0] as usize..level[1] as usize]
                    .iter()
                    .filter(|&&v| included[v as usize])
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    pub fn node_count(&self) -> usize {
        self.order.len()
    }

    pub fn order(&self) -> &[u32] {
        &self.order
    }

    #[inline]
    pub fn successors(&self, node: u32) -> &[u32] {
        let node = node as usize;
        &self.succ[self.succ_start[node] as usize..self.succ_start[node + 1] as usize]
    }

    #[inline]
    pub fn predecessors(&self, node: u32) -> &[u32] {
        let node = node as usize;
        &self.pred[self.pred_start[node] as usize..self.pred_start[node + 1] as usize]
    }

    /// The forward and backward pass over the subgraph of `included` nodes, with
    /// `duration[v]` the length of node `v`:
    /// earliest start = the latest `earliest start + duration` among included
    /// predecessors (0 without one); makespan = the latest `earliest start + duration`;
    /// latest start = the earliest latest start among included successors (the
    /// makespan without one) minus the duration.
    pub fn schedule(&self, duration: &[f64], included: &[bool]) -> Schedule {
        let count = self.node_count();
        let mut earliest = vec![f64::NAN; count];
        let mut makespan: Option<f64> = None;
        for &v in &self.order {
            if !included[v as usize] {
                continue;
            }
            let mut start: Option<f64> = None;
            for &p in self.predecessors(v) {
                if included[p as usize] {
                    let finish = earliest[p as usize] + duration[p as usize];
                    start = Some(start.map_or(finish, |best| best.max(finish)));
                }
            }
            let start = start.unwrap_or(0.0);
            earliest[v as usize] = start;
            let finish = start + duration[v as usize];
            makespan = Some(makespan.map_or(finish, |best| best.max(finish)));
        }
        let makespan = makespan.unwrap_or(0.0);
        let mut latest = vec![f64::NAN; count];
        for &v in self.order.iter().rev() {
            if !included[v as usize] {
                continue;
            }
            let mut end: Option<f64> = None;
            for &s in self.successors(v) {
                if included[s as usize] {
                    let start = latest[s as usize];
                    end = Some(end.map_or(start, |best| best.min(start)));
                }
            }
            latest[v as usize] = end.unwrap_or(makespan) - duration[v as usize];
        }
        let slack = latest.iter().zip(&earliest).map(|(l, e)| l - e).collect();
        Schedule {
            earliest_start: earliest,
            latest_start: latest,
            slack,
            makespan,
        }
    }

    /// The longest path through the `included` nodes weighted by `cost`, and its
    /// total. Each node's bottom level (its cost plus the largest bottom level among
    /// its included successors) is computed leaves first; the path starts at the node
    /// with the largest bottom level and steps to the successor with the largest one.
    /// Ties go to the node `prefer(a, b)` picks (the binding: the smaller name).
    pub fn critical_path(
        &self,
        cost: &[f64],
        included: &[bool],
        mut prefer: impl FnMut(u32, u32) -> bool,
    ) -> (Vec<u32>, f64) {
        let mut bottom = vec![f64::NAN; self.node_count()];
        let mut start: Option<u32> = None;
        for &v in self.order.iter().rev() {
            if !included[v as usize] {
                continue;
            }
            let below = self
                .successors(v)
                .iter()
                .filter(|&&s| included[s as usize])
                .fold(0.0f64, |best, &s| best.max(bottom[s as usize]));
            let level = cost[v as usize] + below;
            bottom[v as usize] = level;
            start = Some(match start {
                Some(best) if !better(level, v, bottom[best as usize], best, &mut prefer) => best,
                _ => v,
            });
        }
        let Some(start) = start else {
            return (Vec::new(), 0.0);
        };
        let mut path = vec![start];
        let mut current = start;
        loop {
            let mut next: Option<u32> = None;
            for &s in self.successors(current) {
                if !included[s as usize] {
                    continue;
                }
                next = Some(match next {
                    Some(best)
                        if !better(
                            bottom[s as usize],
                            s,
                            bottom[best as usize],
                            best,
                            &mut prefer,
                        ) =>
                    {
                        best
                    }
                    _ => s,
                });
            }
            match next {
                Some(s) => {
                    path.push(s);
                    current = s;
                }
                None => break,
            }
        }
        (path, bottom[start as usize])
    }

    /// For every node, how many of its descendants (nodes reachable along edges,
    /// through any nodes) are `counted`.
    ///
    /// Exact, by reachability sets built in reverse topological order: a node's set
    /// is the union of its successors and their sets. A set is stored over positions
    /// in `order` as a dense bit window plus a suffix `[suffix, n)` known to be
    /// reached in full: descendants lie after a node in the order, and in a DAG that
    /// fans back in (layered graphs, pipelines) they soon cover everything after some
    /// position, so the window stays a few levels wide. A set is dropped once its
    /// last predecessor has used it. Cost: O(V + E) plus, per edge, the width of the
    /// successor's window in 64-bit words; O(V * E / 64) at worst (wide sets that
    /// never close into a suffix, such as many long independent chains).
    pub fn descendant_counts(&self, counted: &[bool]) -> Vec<u64> {
        let count = self.node_count();
        // By position: counted nodes as bits, and how many stand before each position.
        let mut counted_bits = vec![0u64; count.div_ceil(64)];
        let mut counted_before = vec![0u64; count + 1];
        for (at, &v) in self.order.iter().enumerate() {
            let is_counted = counted[v as usize];
            if is_counted {
                counted_bits[at / 64] |= 1 << (at % 64);
            }
            counted_before[at + 1] = counted_before[at] + u64::from(is_counted);
        }
        let mut users: Vec<u32> = (0..count as u32)
            .map(|v| self.predecessors(v).len() as u32)
            .collect();
        let mut sets: Vec<Option<Reach>> = (0..count).map(|_| None).collect();
        let mut result = vec![0u64; count];
        for at in (0..count).rev() {
            let v = self.order[at];
            let reach = self.union_of_successors(v, count, &sets);
            result[v as usize] = reach.count(&counted_bits, &counted_before);
            for &s in self.successors(v) {
                users[s as usize] -= 1;
                if users[s as usize] == 0 {
                    sets[self.position[s as usize] as usize] = None;
                }
            }
            if users[v as usize] > 0 {
                sets[at] = Some(reach);
            }
        }
        result
    }

    fn union_of_successors(&self, v: u32, count: usize, sets: &[Option<Reach>]) -> Reach {
        let successors = self.successors(v);
        let set_of = |s: u32| {
            sets[self.position[s as usize] as usize]
                .as_ref()
                .expect("a successor's set lives until its last predecessor is done")
        };
        let mut suffix = count;
        let mut low_word = usize::MAX;
        let mut high_word = 0;
        for &s in successors {
            let set = set_of(s);
            suffix = suffix.min(set.suffix);
            let word = self.position[s as usize] as usize / 64;
            low_word = low_word.min(word);
            high_word = high_word.max(word + 1);
            if !set.words.is_empty() {
                low_word = low_word.min(set.first_word);
                high_word = high_word.max(set.first_word + set.words.len());
            }
        }
        // The window spans what the successors hold, below the suffix: a set that
        // never closes into a suffix (a branch that dies out) stays as narrow as it is.
        let high_word = high_word.min(suffix.div_ceil(64));
        if successors.is_empty() || low_word >= high_word {
            return Reach {
                first_word: 0,
                words: Vec::new(),
                suffix,
            };
        }
        let mut words = vec![0u64; high_word - low_word];
        for &s in successors {
            let at = self.position[s as usize] as usize;
            if at < suffix {
                words[at / 64 - low_word] |= 1 << (at % 64);
            }
            let set = set_of(s);
            let from = set.first_word.max(low_word);
            let to = (set.first_word + set.words.len()).min(high_word);
            for word in from..to {
                words[word - low_word] |= set.words[word - set.first_word];
            }
        }
        let mut reach = Reach {
            first_word: low_word,
            words,
            suffix,
        };
        reach.settle();
        reach
    }
}

/// Whether `(level, node)` beats `(best_level, best)`: a larger level, or an equal
/// one and `prefer(node, best)`.
#[inline]
fn better(
    level: f64,
    node: u32,
    best_level: f64,
    best: u32,
    prefer: &mut impl FnMut(u32, u32) -> bool,
) -> bool {
    match level.total_cmp(&best_level) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => prefer(node, best),
    }
}

/// A set of positions: the bits of `words` (word `i` holds positions
/// `64 * (first_word + i)..`), all below `suffix`, plus every position from `suffix`.
struct Reach {
    first_word: usize,
    words: Vec<u64>,
    suffix: usize,
}

impl Reach {
    /// Clear bits at or above `suffix`, grow the suffix down over the full run of
    /// positions just below it, and drop zero words at the ends.
    fn settle(&mut self) {
        while let Some(&top) = self.words.last() {
            let top_base = 64 * (self.first_word + self.words.len() - 1);
            if top_base + 64 < self.suffix {
                break; // unreached positions lie between the window and the suffix
            }
            let valid = (self.suffix - top_base).min(64);
            let mask = if valid == 64 { !0 } else { (1u64 << valid) - 1 };
            let top = top & mask;
            if top == mask {
                self.suffix = top_base;
                self.words.pop();
                continue;
            }
            // The run of ones just below the suffix joins it.
            let run = if valid == 64 {
                top.leading_ones()
            } else {
                (top << (64 - valid)).leading_ones()
            } as usize;
            self.suffix -= run;
            let kept = valid - run;
            let last = self.words.len() - 1;
            self.words[last] = top & if kept == 64 { !0 } else { (1u64 << kept) - 1 };
            break;
        }
        while self.words.last() == Some(&0) {
            self.words.pop();
        }
        let leading = self.words.iter().take_while(|&&word| word == 0).count();
        if leading > 0 {
            self.words.drain(..leading);
            self.first_word += leading;
        }
    }

    /// How many counted positions the set holds.
    fn count(&self, counted_bits: &[u64], counted_before: &[u64]) -> u64 {
        let in_words: u64 = self
            .words
            .iter()
            .zip(&counted_bits[self.first_word..])
            .map(|(&word, &counted)| u64::from((word & counted).count_ones()))
            .sum();
        let total = counted_before[counted_before.len() - 1];
        in_words + (total - counted_before[self.suffix])
    }
}

/// The `k` included nodes with the highest `score`, highest first; equal scores keep
/// `order` (the first in the order first). Scores must not be NaN.
pub fn top_k(order: &[u32], score: &[f64], included: &[bool], k: usize) -> Vec<u32> {
    let mut best: Vec<u32> = Vec::with_capacity(k + 1);
    if k == 0 {
        return best;
    }
    for &v in order {
        if !included[v as usize] {
            continue;
        }
        let value = score[v as usize];
        // Nodes come in order, so a newcomer goes after every equal score.
        let at = best.partition_point(|&b| score[b as usize] >= value);
        if at < k {
            best.insert(at, v);
            best.truncate(k);
        }
    }
    best
}

impl Graph {
    /// What the recorded times say. `start[v]` / `end[v]`: when node `v` started and
    /// ended, NaN when not recorded; the run spans `run_start..run_end`.
    ///
    /// - Observed critical path: from the node that ended last, step back to the
    ///   predecessor that ended last no later than the current node started, until
    ///   none is left; the chain is returned first to last. Ties go to the lower
    ///   node index (predecessor lists are in index order).
    /// - Scheduling delay: start minus the latest end among the node's predecessors
    ///   that ended (the run's start when none did).
    /// - Idle: the run's length minus the time covered by at least one node running;
    ///   a node that started and has no end counts as running until the run's end.
    pub fn observe(&self, start: &[f64], end: &[f64], run_start: f64, run_end: f64) -> Observed {
        let mut last: Option<u32> = None;
        for (v, &finish) in end.iter().enumerate() {
            if !finish.is_nan() && last.is_none_or(|best| finish > end[best as usize]) {
                last = Some(v as u32);
            }
        }
        let mut critical_path = Vec::new();
        let mut current = last;
        while let Some(v) = current {
            critical_path.push(v);
            let began = start[v as usize];
            current = None;
            if began.is_nan() {
                break;
            }
            for &p in self.predecessors(v) {
                let finish = end[p as usize];
                if finish <= began && current.is_none_or(|best| finish > end[best as usize]) {
                    current = Some(p);
                }
            }
        }
        critical_path.reverse();

        let scheduling_delay = (0..self.node_count() as u32)
            .map(|v| {
                let began = start[v as usize];
                if began.is_nan() {
                    return f64::NAN;
                }
                let ready = self
                    .predecessors(v)
                    .iter()
                    .map(|&p| end[p as usize])
                    .filter(|finish| !finish.is_nan())
                    .fold(None, |best: Option<f64>, finish| {
                        Some(best.map_or(finish, |b| b.max(finish)))
                    })
                    .unwrap_or(run_start);
                began - ready
            })
            .collect();

        let mut spans: Vec<(f64, f64)> = start
            .iter()
            .zip(end)
            .filter(|(began, _)| !began.is_nan())
            .map(|(&began, &finish)| {
                let finish = if finish.is_nan() { run_end } else { finish };
                (began.max(run_start), finish.min(run_end))
            })
            .filter(|(began, finish)| began < finish)
            .collect();
        spans.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut covered = 0.0;
        let mut open: Option<(f64, f64)> = None;
        for (began, finish) in spans {
            open = match open {
                Some((from, to)) if began <= to => Some((from, to.max(finish))),
                Some((from, to)) => {
                    covered += to - from;
                    Some((began, finish))
                }
                None => Some((began, finish)),
            };
        }
        if let Some((from, to)) = open {
            covered += to - from;
        }
        let idle = (run_end - run_start - covered).max(0.0);
        Observed {
            critical_path,
            scheduling_delay,
            idle,
        }
    }
}

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
