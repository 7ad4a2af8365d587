//! Descendant counts: for every node, how many counted nodes it reaches, by
//! reachability sets kept as a bit window over the level order plus a suffix.

use super::dag::Graph;

impl Graph {
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
            if from < to {
                // Slices of equal length, so the loop has no bounds checks and
                // vectorizes: this OR is most of the pass's time.
                let into = &mut words[from - low_word..to - low_word];
                let reached = &set.words[from - set.first_word..to - set.first_word];
                for (word, &bits) in into.iter_mut().zip(reached) {
                    *word |= bits;
                }
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
        let in_words = ones_in_both(&self.words, &counted_bits[self.first_word..]);
        let total = counted_before[counted_before.len() - 1];
        in_words + (total - counted_before[self.suffix])
    }
}

/// How many bits are set in both `a` and `b` (over their common length). With the
/// POPCNT instruction where the CPU has it: the wheels are built for baseline x86-64,
/// whose bit-count is a dozen instructions a word, and this count runs over every
/// node's window.
fn ones_in_both(a: &[u64], b: &[u64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU has POPCNT (checked just above), the one feature that
        // `ones_in_both_popcnt` is compiled to use.
        return unsafe { ones_in_both_popcnt(a, b) };
    }
    ones_in_both_portable(a, b)
}

#[inline(always)]
fn ones_in_both_portable(a: &[u64], b: &[u64]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u64::from((x & y).count_ones()))
        .sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn ones_in_both_popcnt(a: &[u64], b: &[u64]) -> u64 {
    ones_in_both_portable(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_counts_agree_with_and_without_popcnt() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let a: Vec<u64> = (0..257).map(|_| next()).collect();
        let b: Vec<u64> = (0..300).map(|_| next()).collect();
        let expected: u64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| (0..64).filter(|bit| (x & y) >> bit & 1 == 1).count() as u64)
            .sum();
        assert_eq!(ones_in_both_portable(&a, &b), expected);
        assert_eq!(ones_in_both(&a, &b), expected);
        assert_eq!(ones_in_both(&a[..0], &b), 0);
    }
}
