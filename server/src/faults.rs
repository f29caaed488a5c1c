//! Crash points for the fault tests: with `FAILPOINTS=NAME=return` (the
//! `fail` crate's syntax; `2*off->return` for the third time) the process
//! aborts at [`crash_point`] as `kill -9` would end it: no destructor, no
//! flush, no answer to the request in flight. Without FAILPOINTS a point
//! costs a lookup.

pub(crate) fn crash_point(name: &str) {
    fn configured(name: &str) -> bool {
        fail::fail_point!(name, |_| true);
        false
    }
    if configured(name) {
        std::process::abort();
    }
}
