//! API usage from the `Sforce-Limit-Info` header. A leaf module: the client
//! records it on every answer, the `limits` module re-exports it.

/// API usage from the `Sforce-Limit-Info` header
/// (`api-usage=18/5000; per-app-api-usage=17/250(appName=sample)`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiUsage {
    /// Requests used in the rolling 24 hours (can exceed `max`).
    pub used: u64,
    /// The allocation.
    pub max: u64,
    /// This connected app's usage and allocation, when reported.
    pub per_app: Option<(u64, u64)>,
    /// The connected app the per-app figures are for (`appName=...`).
    pub per_app_name: Option<String>,
}

impl ApiUsage {
    /// Parses the header; unknown keys are ignored.
    pub fn parse(header: &str) -> Option<Self> {
        let mut usage: Option<(u64, u64)> = None;
        let mut per_app = None;
        let mut per_app_name = None;
        for part in header.split([';', ',']) {
            let Some((key, value)) = part.trim().split_once('=') else {
                continue;
            };
            let pair = value.split('(').next().unwrap_or("").trim();
            let Some((u, m)) = pair.split_once('/') else {
                continue;
            };
            let (Ok(u), Ok(m)) = (u.trim().parse(), m.trim().parse()) else {
                continue;
            };
            match key.trim() {
                "api-usage" => usage = Some((u, m)),
                "per-app-api-usage" => {
                    per_app = Some((u, m));
                    per_app_name = value
                        .split_once("appName=")
                        .map(|(_, n)| n.trim_end_matches(')').trim().to_owned())
                        .filter(|n| !n.is_empty());
                }
                _ => {}
            }
        }
        usage.map(|(used, max)| ApiUsage {
            used,
            max,
            per_app,
            per_app_name,
        })
    }

    /// Whether 90% or more of the allocation is used.
    pub fn is_near_limit(&self) -> bool {
        self.max > 0 && self.used.saturating_mul(10) >= self.max.saturating_mul(9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_header_form() {
        assert_eq!(
            ApiUsage::parse("api-usage=18/5000"),
            Some(ApiUsage {
                used: 18,
                max: 5000,
                per_app: None,
                per_app_name: None,
            })
        );
        let u = ApiUsage::parse(
            "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)",
        )
        .unwrap();
        assert_eq!(u.per_app, Some((17, 250)));
        assert_eq!(u.per_app_name.as_deref(), Some("sample-connected-app"));
        let u = ApiUsage::parse("api-usage=110018/100000; api-bursts=1/750").unwrap();
        assert!(u.is_near_limit());
        assert_eq!(u.used, 110_018);
        assert!(ApiUsage::parse("garbage").is_none());
        assert!(ApiUsage::parse("api-usage=x/y").is_none());
        assert!(!ApiUsage::parse("api-usage=1/5000").unwrap().is_near_limit());
    }
}
