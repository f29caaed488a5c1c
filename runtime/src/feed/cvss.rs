//! CVSS base scores of vector strings (v3.0, v3.1 and v4.0) by RustSec's
//! `cvss` crate, which implements FIRST's specifications, v4.0's
//! macro-vector table included; and the qualitative rating of a score.

use assay_model::telemetry::AdvisorySeverity;

/// The score of a `CVSS:3.x/...` or `CVSS:4.0/...` vector (v4.0: of the
/// metrics it gives, base metrics alone in the feeds seen), or `None` for
/// anything else.
pub fn base_score(vector: &str) -> Option<f64> {
    vector.trim().parse::<cvss::Cvss>().ok().map(|c| c.score())
}

/// The qualitative rating of a score (the same bands in v3 and v4).
pub fn level(score: f64) -> AdvisorySeverity {
    if score >= 9.0 {
        AdvisorySeverity::Critical
    } else if score >= 7.0 {
        AdvisorySeverity::High
    } else if score >= 4.0 {
        AdvisorySeverity::Medium
    } else {
        AdvisorySeverity::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores as FIRST's calculators give them.
    #[test]
    fn known_vectors_score_as_published() {
        assert_eq!(base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), Some(9.8));
        assert_eq!(base_score("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"), Some(8.1));
        assert_eq!(base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"), Some(6.1));
        assert_eq!(base_score("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:N"), Some(0.0));
        assert_eq!(base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"), Some(10.0));
        assert_eq!(base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N"), Some(6.9));
        assert_eq!(base_score("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"), Some(8.5));
        assert_eq!(base_score("garbage"), None);
        assert_eq!(base_score("CVSS:4.0/AV:N"), None, "a vector without its mandatory metrics");
        assert_eq!(base_score("CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
        assert_eq!(level(9.8), AdvisorySeverity::Critical);
        assert_eq!(level(5.3), AdvisorySeverity::Medium);
    }
}
