//! The server's CPU-bound work (decompressing and validating uploads,
//! evaluating rules) on a few threads of its own, at a lower scheduling
//! priority than the threads that answer requests.
//!
//! A heartbeat is a few database reads and a small answer; an evaluation
//! is milliseconds of CPU. When 10,000 uploads arrive in one minute, both
//! want the same cores, and with equal priority the heartbeats wait behind
//! evaluations in the run queue. Niced threads get the CPU the request
//! threads leave, so evaluation throughput is what is left over and the
//! latency of answers stays that of an idle server. The pool also bounds
//! how much of this work runs at once (`spawn_blocking` would start a
//! thread per upload).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Added to the nice value of the pool's threads. At 10 the kernel's
/// weight is about a tenth of a normal thread's: a request thread that
/// becomes runnable preempts the pool's at once.
const NICE: i32 = 10;

pub(crate) struct Pool {
    jobs: mpsc::Sender<Job>,
}

impl Pool {
    /// Starts `threads` threads (at least one), which end when the pool is
    /// dropped and the jobs queued before are done.
    pub(crate) fn new(threads: usize) -> Pool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("assay-cpu-{i}")).spawn(move || {
                lower_priority();
                loop {
                    // The lock is held only to take one job.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            // When no thread could be started the receiver is gone with
            // this function's copy, and `run` falls back to tokio's
            // blocking pool: the work is done either way.
            drop(spawned);
        }
        Pool { jobs: tx }
    }

    /// Runs `f` on the pool and waits for it without holding an async
    /// thread. A panic in `f` is an error naming it; the thread lives on.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let out = std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
                let text = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                format!("panicked: {text}")
            });
            let _ = tx.send(out);
        });
        if let Err(mpsc::SendError(job)) = self.jobs.send(job) {
            // No pool thread is left (it could not be started): the job
            // runs anyway, at normal priority.
            tokio::task::spawn_blocking(job).await.map_err(|e| e.to_string())?;
        }
        rx.await.map_err(|_| "the worker thread ended before answering".to_string())?
    }
}

/// Lowers this thread's priority (on Linux, nice is per thread). Failing
/// leaves it as it is: the work is the same, only scheduled sooner.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Ok(now) = rustix::process::getpriority_process(Some(tid)) {
            let _ = rustix::process::setpriority_process(Some(tid), (now + NICE).min(19));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_survives_a_panic() {
        let pool = Pool::new(2);
        assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
        let failed = pool.run(|| -> i32 { panic!("on purpose") }).await;
        assert_eq!(failed, Err("panicked: on purpose".to_string()));
        // Both threads are still there to take more.
        let many: Vec<_> = (0..8).map(|i| pool.run(move || i * 2)).collect();
        let mut out = Vec::new();
        for r in many {
            out.push(r.await.unwrap());
        }
        assert_eq!(out, vec![0, 2, 4, 6, 8, 10, 12, 14]);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn its_threads_run_at_a_lower_priority() {
        let pool = Pool::new(1);
        let here = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let there = pool
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap())
            .await
            .unwrap();
        assert_eq!(there, (here + NICE).min(19));
    }
}
