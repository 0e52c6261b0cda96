//! Genesys Cloud regions and environments: which hosts the client talks to.
//!
//! A region is named by the SDK region key (`us_east_1`, `eu_west_1`, ...) and maps to one domain; every host is
//! derived from the domain (`api.`, `login.`, `webmessaging.`). An [`Environment`] is either a region or an explicit
//! base URL (the emulator serves the API, login and WebSocket roles on one host).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

macro_rules! regions {
    ($( $(#[$doc:meta])* $variant:ident => $key:literal, $domain:literal; )*) => {
        /// A Genesys Cloud region (the SDK region key and its domain).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Region {
            $( $(#[$doc])* $variant, )*
        }

        impl Region {
            /// Every region, in the order of the reference table.
            pub const ALL: &'static [Region] = &[ $( Region::$variant, )* ];

            /// The SDK region key, e.g. `us_east_1`.
            pub fn key(self) -> &'static str {
                match self { $( Region::$variant => $key, )* }
            }

            /// The region's domain, e.g. `mypurecloud.com`.
            pub fn domain(self) -> &'static str {
                match self { $( Region::$variant => $domain, )* }
            }
        }
    };
}

regions! {
    /// US East (Virginia).
    UsEast1 => "us_east_1", "mypurecloud.com";
    /// EU West (Ireland).
    EuWest1 => "eu_west_1", "mypurecloud.ie";
    /// Asia Pacific (Sydney).
    ApSoutheast2 => "ap_southeast_2", "mypurecloud.com.au";
    /// Asia Pacific (Tokyo).
    ApNortheast1 => "ap_northeast_1", "mypurecloud.jp";
    /// EU Central (Frankfurt).
    EuCentral1 => "eu_central_1", "mypurecloud.de";
    /// US West (Oregon).
    UsWest2 => "us_west_2", "usw2.pure.cloud";
    /// Canada (Central).
    CaCentral1 => "ca_central_1", "cac1.pure.cloud";
    /// Asia Pacific (Seoul).
    ApNortheast2 => "ap_northeast_2", "apne2.pure.cloud";
    /// EU West (London).
    EuWest2 => "eu_west_2", "euw2.pure.cloud";
    /// Asia Pacific (Mumbai).
    ApSouth1 => "ap_south_1", "aps1.pure.cloud";
    /// South America (São Paulo).
    SaEast1 => "sa_east_1", "sae1.pure.cloud";
    /// Middle East (UAE).
    MeCentral1 => "me_central_1", "mec1.pure.cloud";
    /// Asia Pacific (Osaka).
    ApNortheast3 => "ap_northeast_3", "apne3.pure.cloud";
    /// EU Central (Zurich).
    EuCentral2 => "eu_central_2", "euc2.pure.cloud";
    /// Mexico (Central).
    MxCentral1 => "mx_central_1", "mxc1.pure.cloud";
    /// Asia Pacific (Singapore).
    ApSoutheast1 => "ap_southeast_1", "apse1.pure.cloud";
    /// US East 2 (FedRAMP).
    UsEast2 => "us_east_2", "use2.us-gov-pure.cloud";
    /// EU sovereign cloud (Germany East).
    EuscDeEast1 => "eusc_de_east_1", "edee1.eusc-pure.cloud";
}

impl Region {
    /// Base URL of the Platform API, `https://api.<domain>`.
    pub fn api_base(self) -> String {
        format!("https://api.{}", self.domain())
    }

    /// Base URL of the login (OAuth) host, `https://login.<domain>`.
    pub fn login_base(self) -> String {
        format!("https://login.{}", self.domain())
    }

    /// Base URL of the guest web messaging WebSocket, `wss://webmessaging.<domain>`.
    pub fn webmessaging_ws_base(self) -> String {
        format!("wss://webmessaging.{}", self.domain())
    }
}

/// Why a region name was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Genesys Cloud region `{0}`: use a region key such as `us_east_1` or `eu_west_1`, or its domain such as `mypurecloud.ie`")]
pub struct UnknownRegion(pub String);

impl FromStr for Region {
    type Err = UnknownRegion;

    /// Parses a region key (case-insensitive, `-` accepted for `_`) or a domain (with or without `api.`/`login.`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let key = t.replace('-', "_");
        let host = t.trim_start_matches("https://").trim_start_matches("wss://").trim_end_matches('/');
        let host = host.strip_prefix("api.").or_else(|| host.strip_prefix("login.")).unwrap_or(host);
        Region::ALL
            .iter()
            .copied()
            .find(|r| r.key() == key || r.domain() == host)
            .ok_or_else(|| UnknownRegion(s.to_string()))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where the client connects: a Genesys Cloud region, or an explicit base URL (the emulator).
///
/// In configuration it is written `environment = "eu_west_1"` (a region key or domain) or
/// `environment = "http://127.0.0.1:8089"` (a URL: API, login and WebSockets all on that host).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Environment {
    /// A Genesys Cloud region.
    Region(Region),
    /// One base URL serving every role (API, login, guest WebSocket), e.g. the emulator.
    BaseUrl(Url),
}

impl Environment {
    /// Base URL of the Platform API (no trailing slash).
    pub fn api_base(&self) -> String {
        match self {
            Environment::Region(r) => r.api_base(),
            Environment::BaseUrl(u) => trimmed(u),
        }
    }

    /// Base URL of the login host (no trailing slash).
    pub fn login_base(&self) -> String {
        match self {
            Environment::Region(r) => r.login_base(),
            Environment::BaseUrl(u) => trimmed(u),
        }
    }

    /// Base URL of the guest web messaging WebSocket: `ws://` for an `http://` base URL, `wss://` otherwise.
    pub fn webmessaging_ws_base(&self) -> String {
        match self {
            Environment::Region(r) => r.webmessaging_ws_base(),
            Environment::BaseUrl(u) => {
                let base = trimmed(u);
                if let Some(rest) = base.strip_prefix("http://") {
                    format!("ws://{rest}")
                } else if let Some(rest) = base.strip_prefix("https://") {
                    format!("wss://{rest}")
                } else {
                    base
                }
            }
        }
    }

    /// A stable name for this environment (region key or base URL), used to key per-client shared state.
    pub fn key(&self) -> String {
        match self {
            Environment::Region(r) => r.key().to_string(),
            Environment::BaseUrl(u) => trimmed(u),
        }
    }
}

fn trimmed(u: &Url) -> String {
    u.as_str().trim_end_matches('/').to_string()
}

impl FromStr for Environment {
    type Err = UnknownRegion;

    /// `http://…`/`https://…` with a host that is not a Genesys domain → [`Environment::BaseUrl`]; anything else is
    /// parsed as a [`Region`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(r) = s.parse::<Region>() {
            return Ok(Environment::Region(r));
        }
        let t = s.trim();
        if t.starts_with("http://") || t.starts_with("https://") {
            if let Ok(u) = Url::parse(t) {
                if u.host_str().is_some() {
                    return Ok(Environment::BaseUrl(u));
                }
            }
        }
        Err(UnknownRegion(s.to_string()))
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl Serialize for Environment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_round_trips_by_key_and_domain() {
        assert_eq!(Region::ALL.len(), 18);
        for r in Region::ALL {
            assert_eq!(r.key().parse::<Region>(), Ok(*r));
            assert_eq!(r.key().to_uppercase().parse::<Region>(), Ok(*r));
            assert_eq!(r.domain().parse::<Region>(), Ok(*r));
            assert_eq!(format!("api.{}", r.domain()).parse::<Region>(), Ok(*r));
        }
    }

    #[test]
    fn hosts_follow_the_domain() {
        let r: Region = "eu_west_1".parse().unwrap();
        assert_eq!(r.api_base(), "https://api.mypurecloud.ie");
        assert_eq!(r.login_base(), "https://login.mypurecloud.ie");
        assert_eq!(r.webmessaging_ws_base(), "wss://webmessaging.mypurecloud.ie");
        let fed: Region = "US-EAST-2".parse().unwrap();
        assert_eq!(fed.api_base(), "https://api.use2.us-gov-pure.cloud");
        let eusc: Region = "eusc_de_east_1".parse().unwrap();
        assert_eq!(eusc.login_base(), "https://login.edee1.eusc-pure.cloud");
        assert_eq!("mypurecloud.com".parse::<Region>(), Ok(Region::UsEast1));
    }

    #[test]
    fn unknown_region_says_what_to_write() {
        let e = "mars_1".parse::<Region>().unwrap_err();
        assert!(e.to_string().contains("us_east_1"));
    }

    #[test]
    fn environment_base_url_serves_every_role() {
        let e: Environment = "http://127.0.0.1:8089/".parse().unwrap();
        assert_eq!(e.api_base(), "http://127.0.0.1:8089");
        assert_eq!(e.login_base(), "http://127.0.0.1:8089");
        assert_eq!(e.webmessaging_ws_base(), "ws://127.0.0.1:8089");
        let r: Environment = "https://api.mypurecloud.de".parse().unwrap();
        assert_eq!(r, Environment::Region(Region::EuCentral1));
        let j: Environment = serde_json::from_str("\"ap_southeast_2\"").unwrap();
        assert_eq!(serde_json::to_string(&j).unwrap(), "\"ap_southeast_2\"");
        assert!("nonsense".parse::<Environment>().is_err());
    }
}
