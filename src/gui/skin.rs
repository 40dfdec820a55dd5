//! Skins: TOML files naming the window's colours (`skins/light.toml`, `skins/dark.toml` are
//! built in; more can be put in the config folder's `skins/`), chosen by `design`. The
//! reference's colour parameters override the skin's colours one by one.

use crate::config::params::parse_colour;
use egui::Color32;
use std::path::Path;

/// The built-in skins: name and TOML.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("light", include_str!("../../skins/light.toml")),
    ("dark", include_str!("../../skins/dark.toml")),
];

/// The colour slots of a skin and the parameter that overrides each.
pub const SLOTS: &[(&str, &str)] = &[
    ("background", "color_background"),
    ("panel", "boxbgcolor"),
    ("label", "color_label_foreground"),
    ("edit_background", "color_edit_background"),
    ("edit_foreground", "color_edit_foreground"),
    ("button_background", "color_buton_background"),
    ("button_foreground", "color_buton_foreground"),
    ("dial_background", "color_buton_dial_background"),
    ("dial_foreground", "color_buton_dial_foreground"),
    ("other_background", "color_other_background"),
];

/// A resolved skin.
#[derive(Debug, Clone, PartialEq)]
pub struct Skin {
    pub dark: bool,
    /// One colour per [`SLOTS`] entry, `None` for the theme's own.
    pub colours: Vec<Option<Color32>>,
}

fn colour(v: &str) -> Option<Color32> {
    parse_colour(v).map(|[r, g, b]| Color32::from_rgb(r, g, b))
}

/// Reads a skin's TOML; the error says what is wrong.
pub fn parse(text: &str) -> Result<Skin, String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let dark = doc
        .get("dark")
        .and_then(toml::Value::as_bool)
        .unwrap_or(false);
    let table = doc.get("colors").and_then(toml::Value::as_table);
    let mut colours = Vec::new();
    for (slot, _) in SLOTS {
        let c = match table.and_then(|t| t.get(*slot)) {
            None => None,
            Some(toml::Value::String(s)) => {
                Some(colour(s).ok_or_else(|| format!("colors.{slot}: {s:?} is not a colour"))?)
            }
            Some(other) => return Err(format!("colors.{slot}: {other} is not a colour")),
        };
        colours.push(c);
    }
    Ok(Skin { dark, colours })
}

/// The skin `design` names: a file in `user_dir` first, then a built-in one; the light skin
/// when it names none (the error says why).
pub fn load(design: &str, user_dir: Option<&Path>) -> (Skin, Option<String>) {
    let name = design.trim().to_ascii_lowercase();
    let fallback = || {
        parse(BUILT_IN[0].1).unwrap_or(Skin {
            dark: false,
            colours: vec![None; SLOTS.len()],
        })
    };
    if let Some(dir) = user_dir
        && let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.toml")))
    {
        return match parse(&text) {
            Ok(s) => (s, None),
            Err(e) => (fallback(), Some(format!("skin {name}: {e}"))),
        };
    }
    match BUILT_IN.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => match parse(text) {
            Ok(s) => (s, None),
            Err(e) => (fallback(), Some(format!("skin {name}: {e}"))),
        },
        None => (
            fallback(),
            Some(format!("there is no skin called {design:?}")),
        ),
    }
}

impl Skin {
    /// Applies the colour parameters (`param` gives a parameter's value) over the skin.
    pub fn with_overrides(mut self, param: impl Fn(&str) -> String) -> Skin {
        for (i, (_, p)) in SLOTS.iter().enumerate() {
            if let Some(c) = colour(&param(p)) {
                self.colours[i] = Some(c);
            }
        }
        self
    }

    /// The colour of a slot.
    pub fn get(&self, slot: &str) -> Option<Color32> {
        SLOTS
            .iter()
            .position(|(s, _)| *s == slot)
            .and_then(|i| self.colours.get(i).copied().flatten())
    }

    /// The egui look of this skin.
    pub fn visuals(&self) -> egui::Visuals {
        let mut v = if self.dark {
            egui::Visuals::dark()
        } else {
            egui::Visuals::light()
        };
        if let Some(c) = self.get("background") {
            v.panel_fill = c;
        }
        if let Some(c) = self.get("panel") {
            v.faint_bg_color = c;
        }
        if let Some(c) = self.get("other_background") {
            v.window_fill = c;
        }
        if let Some(c) = self.get("edit_background") {
            v.extreme_bg_color = c;
            v.text_edit_bg_color = Some(c);
        }
        if let Some(c) = self.get("label") {
            v.override_text_color = Some(c);
        }
        if let Some(c) = self.get("button_background") {
            v.widgets.inactive.weak_bg_fill = c;
            v.widgets.inactive.bg_fill = c;
        }
        if let Some(c) = self.get("button_foreground") {
            v.widgets.inactive.fg_stroke.color = c;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_skins_parse_and_parameters_override_them() {
        for (name, text) in BUILT_IN {
            let s = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                s.colours.iter().all(Option::is_some),
                "{name} names every slot"
            );
        }
        let (dark, err) = load("Dark", None);
        assert!(dark.dark && err.is_none());
        let red = dark.with_overrides(|p| {
            if p == "color_buton_dial_background" {
                "#ff0000".into()
            } else {
                String::new()
            }
        });
        assert_eq!(
            red.get("dial_background"),
            Some(Color32::from_rgb(255, 0, 0))
        );
        let (light, err) = load("nosuch", None);
        assert!(!light.dark);
        assert!(err.unwrap().contains("no skin called"));
        assert!(
            parse("[colors]\nlabel = \"#12\"")
                .unwrap_err()
                .contains("colors.label")
        );
        assert!(parse("[colors\n").is_err());
    }
}
