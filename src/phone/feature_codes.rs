//! Park, retrieve and pickup by the PBX's feature codes. Every PBX spells them its own way
//! (Asterisk parks by a transfer to 700 and retrieves by dialling the announced slot 701;
//! FreeSWITCH's valet parking uses `*59` plus a slot; group pickup is `*8` on both, directed
//! pickup `**` plus the extension on FreePBX), so the codes are parameters and this file only
//! puts a code and an orbit or extension together and says clearly when a code is missing.

use super::{Refused, refused};
use crate::config::Settings;
use crate::model::NoticeKind;

/// The feature codes (`parkcode`, `unparkcode`, `pickupcode`, `directedpickupcode`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureCodes {
    pub park: String,
    pub unpark: String,
    pub group_pickup: String,
    pub directed_pickup: String,
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn missing(what: &str, param: &str) -> Refused {
    refused(
        NoticeKind::Call,
        format!("{what} needs the PBX's feature code: set {param}"),
    )
}

impl FeatureCodes {
    /// From the parameters.
    pub fn from_settings(s: &Settings) -> FeatureCodes {
        FeatureCodes {
            park: clean(&s.text("parkcode")),
            unpark: clean(&s.text("unparkcode")),
            group_pickup: clean(&s.text("pickupcode")),
            directed_pickup: clean(&s.text("directedpickupcode")),
        }
    }

    /// Where a call is transferred to park it: the park code, followed by the orbit when one
    /// is named (`*59` + `5`), or the code alone (Asterisk's 700 picks the slot itself).
    pub fn park_target(&self, orbit: &str) -> Result<String, Refused> {
        if self.park.is_empty() {
            return Err(missing("parking a call", "parkcode"));
        }
        Ok(format!("{}{}", self.park, clean(orbit)))
    }

    /// What to dial to take a parked call back from `orbit`: the retrieve code and the orbit
    /// (with no `unparkcode`, the orbit alone, as Asterisk's slots are dialled).
    pub fn unpark_number(&self, orbit: &str) -> Result<String, Refused> {
        let orbit = clean(orbit);
        if orbit.is_empty() {
            return Err(refused(
                NoticeKind::Call,
                "retrieving a parked call needs its orbit (slot) number".into(),
            ));
        }
        Ok(format!("{}{orbit}", self.unpark))
    }

    /// What to dial to pick up a call ringing elsewhere: in the pickup group (no extension)
    /// or at one extension.
    pub fn pickup_number(&self, extension: &str) -> Result<String, Refused> {
        let extension = clean(extension);
        if extension.is_empty() {
            if self.group_pickup.is_empty() {
                return Err(missing("group pickup", "pickupcode"));
            }
            return Ok(self.group_pickup.clone());
        }
        if self.directed_pickup.is_empty() {
            return Err(missing(
                "picking up an extension's call",
                "directedpickupcode",
            ));
        }
        Ok(format!("{}{extension}", self.directed_pickup))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_orbits_make_the_numbers_dialled() {
        let c = FeatureCodes {
            park: "*59".into(),
            unpark: "*59".into(),
            group_pickup: "*8".into(),
            directed_pickup: "**".into(),
        };
        assert_eq!(c.park_target(" 5 ").unwrap(), "*595");
        assert_eq!(c.unpark_number("5").unwrap(), "*595");
        assert_eq!(c.pickup_number("").unwrap(), "*8");
        assert_eq!(c.pickup_number("1005").unwrap(), "**1005");
        assert!(c.unpark_number(" ").is_err());
        let asterisk = FeatureCodes {
            park: "700".into(),
            ..Default::default()
        };
        assert_eq!(asterisk.park_target("").unwrap(), "700");
        assert_eq!(asterisk.unpark_number("701").unwrap(), "701");
        let none = FeatureCodes::default();
        let e = none.park_target("1").unwrap_err();
        assert_eq!(
            e.message,
            "parking a call needs the PBX's feature code: set parkcode"
        );
        assert!(none.pickup_number("").is_err() && none.pickup_number("1005").is_err());
    }
}
