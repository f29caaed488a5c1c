//! Cycles in the two graphs the checker must keep acyclic: modules that
//! import each other (E0307) and functions that call themselves (E0308),
//! found by one search.

use super::*;
use std::hash::Hash;

/// The cycles through `start` a depth-first search meets, each as the edges
/// taken (node reached and the span of the edge), the last edge leading back
/// to `start`. Edges are followed in their listed order, each node entered
/// once, so the result is deterministic and the search linear.
pub(super) fn through<N: Copy + Eq + Hash>(
    edges: &HashMap<N, Vec<(N, Span)>>,
    start: N,
) -> Vec<Vec<(N, Span)>> {
    let mut found = Vec::new();
    let mut stack: Vec<(N, usize)> = vec![(start, 0)];
    let mut path: Vec<(N, Span)> = Vec::new();
    let mut visited: HashSet<N> = HashSet::new();
    while let Some((node, next)) = stack.last_mut() {
        let out = edges.get(node).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(&(target, span)) = out.get(*next) {
            *next += 1;
            if target == start {
                let mut cycle = path.clone();
                cycle.push((target, span));
                found.push(cycle);
            } else if visited.insert(target) {
                path.push((target, span));
                stack.push((target, 0));
            }
        } else {
            stack.pop();
            path.pop();
        }
    }
    found
}

impl<'a> Checker<'a> {
    pub(super) fn recursion(&mut self) {
        let mut edges: HashMap<hir::FnId, Vec<(hir::FnId, Span)>> = HashMap::new();
        for (from, to, span) in &self.calls {
            edges.entry(*from).or_default().push((*to, *span));
        }
        for start in 0..self.fns.len() as hir::FnId {
            let Some(path) = through(&edges, start).into_iter().next() else { continue };
            let span = path[path.len() - 1].1;
            let name = self.fns[start as usize].decl.name.clone();
            let what = super::errors::Recursive::Function { call: span };
            self.report(super::errors::recursive(&name.name, name.span, what));
        }
    }
}
