//! Call detail records: what the history keeps of a finished call. In the model because the
//! phone policy makes them, the store keeps them and every face shows them.

use serde::{Deserialize, Serialize};

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscParty {
    /// We did (hung up, cancelled, rejected, one of our timeouts).
    Local,
    /// The far end, its server or the network.
    Remote,
}

impl DiscParty {
    /// The number in the CDR line: 1 local, 2 remote.
    pub fn code(self) -> u8 {
        match self {
            DiscParty::Local => 1,
            DiscParty::Remote => 2,
        }
    }
}

/// A call detail record: what the history keeps of a finished call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    pub line: u32,
    /// The peer as shown (user part or number) and its display name.
    pub peer: String,
    pub peer_display: String,
    /// Who called whom (user parts).
    pub caller: String,
    pub called: String,
    /// The peer's SIP address.
    pub peer_address: String,
    pub outgoing: bool,
    /// When the call started, in milliseconds since the Unix epoch.
    pub started_ms: i64,
    /// From start to answer, 0 when never answered.
    pub connect_ms: u64,
    /// From answer to end, 0 when never answered.
    pub duration_ms: u64,
    pub disc_party: DiscParty,
    pub reason: String,
    pub call_id: String,
}

/// `ms` since the Unix epoch as `YYYY-MM-DD HH:MM:SS` UTC (days to civil date after
/// H. Hinnant's algorithm).
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}
