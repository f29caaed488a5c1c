//! This process's request counts and latencies by route, for `/metrics`
//! (Prometheus expects them of each scraped instance).

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Upper bounds of the latency histogram, in seconds.
pub(crate) const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Clone, Default)]
pub(crate) struct Route {
    /// Requests per status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Cumulative counts per bucket.
    pub buckets: [u64; BUCKETS.len()],
    pub count: u64,
    pub sum: f64,
}

#[derive(Default)]
pub(crate) struct Requests {
    routes: Mutex<BTreeMap<String, Route>>,
}

impl Requests {
    /// Counts a request to `route` (`METHOD /pattern`) answered with
    /// `status` after `seconds`.
    pub(crate) fn record(&self, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let r = routes.entry(route.to_owned()).or_default();
        *r.statuses.entry(status).or_default() += 1;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                r.buckets[i] += 1;
            }
        }
        r.count += 1;
        r.sum += seconds;
    }

    /// Every route's figures so far.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, Route> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
