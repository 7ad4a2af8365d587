//! The top-k ranking of included nodes by a score, stable in a given order.

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
