//! Schedules: a template's cron expression (UTC) starts its runs on time.
//! The next start of each scheduled template is moved forward by
//! compare-and-set before the run starts, so several servers start it
//! once.

use super::{auth, runs, App, Result};
use crate::ids::now;
use crate::store::templates;
use serde_json::json;
use std::str::FromStr;

/// The next time `cron` (UTC) fires after `after` (Unix milliseconds).
pub(crate) fn next_fire(cron: &str, after: i64) -> std::result::Result<i64, String> {
    let cron = croner::Cron::from_str(cron).map_err(|e| format!("`{cron}` is not a cron schedule: {e}"))?;
    let start = chrono::DateTime::from_timestamp_millis(after).ok_or("the clock is out of range")?;
    let next =
        cron.find_next_occurrence(&start, false).map_err(|e| format!("the schedule never fires: {e}"))?;
    Ok(next.timestamp_millis())
}

/// Starts the runs whose schedule is due. A start that cannot happen (no
/// agent, agents still in a run) is recorded in the audit log; the
/// schedule moves on either way.
pub(crate) async fn start_due(app: &App) -> Result<()> {
    let at = now();
    let due = {
        let mut c = app.store.read().await?;
        templates::due(&mut c, at).await?
    };
    for schedule in due {
        let Ok(next) = next_fire(&schedule.cron, at) else { continue };
        let mut tx = app.store.write().await?;
        let moved = templates::advance(&mut tx, &schedule.template, schedule.next_run_at, next).await?;
        tx.commit().await?;
        if !moved {
            continue; // another replica took this one
        }
        let detail = match runs::start(app, &schedule.template).await {
            Ok(run) => json!({ "template": schedule.template, "run": run }),
            Err(e) => {
                json!({ "template": schedule.template, "skipped": e.message(), "details": e.details() })
            }
        };
        auth::audit(app, "schedule", "run.scheduled", detail).await?;
    }
    Ok(())
}
