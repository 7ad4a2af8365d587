//! The DAG itself: successor and predecessor lists in compressed adjacency form
//! (CSR), built and checked from the binding's arrays, with its nodes in level
//! order. The passes over it live beside this file; the fields they read
//! (`order`, `position`) are visible to them, the lists only through
//! `successors` / `predecessors`.

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
    pub(super) order: Vec<u32>,
    /// `position[v]`: where node `v` stands in `order`.
    pub(super) position: Vec<u32>,
    /// Level `k` is `order[level_start[k]..level_start[k + 1]]`.
    level_start: Vec<u32>,
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
}
