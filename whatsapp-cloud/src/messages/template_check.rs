//! Checks a template send against the approved template's definition, so a
//! wrong send fails locally, naming the component, instead of coming back as
//! 132000 or 132012.

#[allow(unused_imports)]
use super::*;

use crate::error::TemplateMismatch;
use crate::templates::{TemplateInfo, TemplateStatus};

/// What a definition's button expects at send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ButtonNeed {
    /// A parameter of this sub-type is required.
    Required(&'static str),
    /// A parameter of this sub-type may be given.
    Optional(&'static str),
    /// No parameter may be given (static URL, phone number).
    Nothing,
}

impl ButtonNeed {
    fn of(button: &serde_json::Value) -> Self {
        let kind = button
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_ascii_uppercase();
        let dynamic_url = button
            .get("url")
            .and_then(|u| u.as_str())
            .is_some_and(|u| u.contains("{{"));
        match kind.as_str() {
            "QUICK_REPLY" => Self::Optional("quick_reply"),
            "URL" if dynamic_url => Self::Required("url"),
            "OTP" => Self::Required("url"),
            "COPY_CODE" => Self::Required("copy_code"),
            "FLOW" => Self::Optional("flow"),
            "CATALOG" => Self::Optional("catalog"),
            "MPM" => Self::Required("mpm"),
            "URL" | "PHONE_NUMBER" => Self::Nothing,
            // A kind this crate does not know yet: let the API judge.
            _ => Self::Optional(""),
        }
    }
}

/// The `{{1}}` / `{{name}}` placeholders of a definition text, distinct, in order.
fn placeholders(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = &after[end + 2..];
    }
    out
}

fn component<'a>(components: &'a [serde_json::Value], kind: &str) -> Option<&'a serde_json::Value> {
    components.iter().find(|c| {
        c.get("type")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.eq_ignore_ascii_case(kind))
    })
}

fn text_of<'a>(c: Option<&'a serde_json::Value>, key: &str) -> &'a str {
    c.and_then(|c| c.get(key))
        .and_then(|t| t.as_str())
        .unwrap_or("")
}

struct Checker<'a> {
    template: &'a Template,
    named: bool,
}

impl Checker<'_> {
    fn fail(&self, component: impl Into<String>, problem: impl Into<String>) -> TemplateMismatch {
        TemplateMismatch {
            name: self.template.name.clone(),
            language: self.template.language.code.clone(),
            component: component.into(),
            problem: problem.into(),
        }
    }

    fn header(
        &self,
        label: &str,
        def: Option<&serde_json::Value>,
        given: &[Component],
    ) -> Result<(), TemplateMismatch> {
        let given: Option<&HeaderParam> = given.iter().find_map(|c| match c {
            Component::Header { parameters } => parameters.first(),
            _ => None,
        });
        let format = text_of(def, "format").to_ascii_uppercase();
        let expected = match format.as_str() {
            "" if def.is_none() => None,
            "TEXT" | "" => {
                let wanted = placeholders(text_of(def, "text"));
                let got = usize::from(matches!(given, Some(HeaderParam::Text { .. })));
                if wanted.len() != got {
                    return Err(self.fail(
                        label,
                        format!(
                            "the definition has {} text placeholder(s), got {got}",
                            wanted.len()
                        ),
                    ));
                }
                if let Some(HeaderParam::Text { parameter_name, .. }) = given {
                    self.name_fits(label, parameter_name.as_deref(), &wanted)?;
                }
                return Ok(());
            }
            other => Some(other.to_ascii_lowercase()),
        };
        let got = given.map(|p| match p {
            HeaderParam::Text { .. } => "text",
            HeaderParam::Image { .. } => "image",
            HeaderParam::Video { .. } => "video",
            HeaderParam::Document { .. } => "document",
            HeaderParam::Location { .. } => "location",
        });
        match (expected.as_deref(), got) {
            (None, None) => Ok(()),
            (None, Some(got)) => Err(self.fail(
                label,
                format!("the definition has no header, got a {got} parameter"),
            )),
            (Some(want), Some(got)) if want == got => Ok(()),
            (Some(want), got) => Err(self.fail(
                label,
                format!(
                    "the definition has a {want} header, which needs a {want} parameter; got {}",
                    got.unwrap_or("none")
                ),
            )),
        }
    }

    fn body(
        &self,
        label: &str,
        def: Option<&serde_json::Value>,
        given: &[Component],
    ) -> Result<(), TemplateMismatch> {
        let wanted = placeholders(text_of(def, "text"));
        let params: &[TemplateParam] = given
            .iter()
            .find_map(|c| match c {
                Component::Body { parameters } => Some(parameters.as_slice()),
                _ => None,
            })
            .unwrap_or(&[]);
        if params.len() != wanted.len() {
            return Err(self.fail(
                label,
                format!(
                    "the definition has {} placeholder(s), got {} parameter(s)",
                    wanted.len(),
                    params.len()
                ),
            ));
        }
        let mut seen: Vec<&str> = Vec::with_capacity(params.len());
        for p in params {
            match (&p.parameter_name, self.named) {
                // Every placeholder gets exactly one value: with the counts
                // equal, a name given twice means another one is missing.
                (Some(name), true) if seen.contains(&name.as_str()) => {
                    let missing: Vec<&str> = wanted
                        .iter()
                        .copied()
                        .filter(|w| {
                            !params
                                .iter()
                                .any(|p| p.parameter_name.as_deref() == Some(*w))
                        })
                        .collect();
                    return Err(self.fail(
                        label,
                        format!(
                            "the parameter {name:?} is given twice; missing: {}",
                            missing.join(", ")
                        ),
                    ));
                }
                _ => self.name_fits(label, p.parameter_name.as_deref(), &wanted)?,
            }
            if let Some(name) = &p.parameter_name {
                seen.push(name);
            }
        }
        Ok(())
    }

    /// Whether a parameter's name (or its absence) fits the template: a
    /// named template needs a name it defines, a positional one no name.
    fn name_fits(
        &self,
        label: &str,
        name: Option<&str>,
        wanted: &[&str],
    ) -> Result<(), TemplateMismatch> {
        match (name, self.named) {
            (Some(name), true) if !wanted.contains(&name) => Err(self.fail(
                label,
                format!("the definition has no placeholder named {name:?}"),
            )),
            (None, true) => Err(self.fail(
                label,
                "the template uses named parameters: name every parameter",
            )),
            (Some(_), false) => Err(self.fail(
                label,
                "the template uses positional parameters: remove the names",
            )),
            _ => Ok(()),
        }
    }

    fn buttons(
        &self,
        prefix: &str,
        def: Option<&serde_json::Value>,
        given: &[Component],
    ) -> Result<(), TemplateMismatch> {
        let defined: Vec<ButtonNeed> = def
            .and_then(|b| b.get("buttons"))
            .and_then(|b| b.as_array())
            .map(|a| a.iter().map(ButtonNeed::of).collect())
            .unwrap_or_default();
        let mut seen = vec![false; defined.len()];
        for c in given {
            let Component::Button {
                sub_type, index, ..
            } = c
            else {
                continue;
            };
            let label = format!("{prefix}button {index}");
            let i = index.parse::<usize>().unwrap_or(usize::MAX);
            let Some(need) = defined.get(i) else {
                return Err(self.fail(
                    label,
                    format!(
                        "the definition has {} button(s), indexed from 0",
                        defined.len()
                    ),
                ));
            };
            if let Some(seen) = seen.get_mut(i) {
                *seen = true;
            }
            match need {
                ButtonNeed::Required(kind) | ButtonNeed::Optional(kind)
                    if kind.is_empty() || kind == sub_type => {}
                ButtonNeed::Required(kind) | ButtonNeed::Optional(kind) => {
                    return Err(self.fail(
                        label,
                        format!("the definition's button is {kind}, got {sub_type}"),
                    ));
                }
                ButtonNeed::Nothing => {
                    return Err(self.fail(label, "this button takes no parameter"));
                }
            }
        }
        for (i, (need, seen)) in defined.iter().zip(&seen).enumerate() {
            if let (ButtonNeed::Required(kind), false) = (need, seen) {
                return Err(self.fail(
                    format!("{prefix}button {i}"),
                    format!("the definition's {kind} button needs a parameter"),
                ));
            }
        }
        Ok(())
    }
}

impl Template {
    /// Checks this send against an approved template's definition (as listed
    /// by the template management API): the status, the header kind, the
    /// number (or names) of body parameters, each button's index and kind,
    /// the carousel's cards and the offer's expiry. Limits that do not need
    /// the definition are checked by [`Message::validate`].
    ///
    /// ```
    /// use whatsapp_cloud::messages::{Template, TemplateParam};
    /// use whatsapp_cloud::templates::TemplateInfo;
    ///
    /// let definition: TemplateInfo = serde_json::from_value(serde_json::json!({
    ///     "name": "order_update", "language": "en_US", "status": "APPROVED",
    ///     "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} has shipped."}]
    /// })).unwrap();
    /// let short = Template::new("order_update", "en_US").body(vec![TemplateParam::text("Ana")]);
    /// let err = short.check_against(&definition).unwrap_err();
    /// assert_eq!(err.component, "body");
    /// assert_eq!(err.problem, "the definition has 2 placeholder(s), got 1 parameter(s)");
    /// ```
    pub fn check_against(&self, definition: &TemplateInfo) -> Result<(), TemplateMismatch> {
        let checker = Checker {
            template: self,
            named: definition
                .parameter_format
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case("named")),
        };
        if definition.name != self.name
            || definition
                .language
                .as_deref()
                .is_some_and(|l| l != self.language.code)
        {
            return Err(checker.fail("template", "the definition is for another template"));
        }
        match &definition.status {
            Some(TemplateStatus::Approved) | None => {}
            Some(other) => {
                return Err(checker.fail(
                    "template",
                    format!("only approved templates can be sent; this one is {other:?}"),
                ));
            }
        }
        let defs = definition.components.as_slice();
        checker.header("header", component(defs, "HEADER"), &self.components)?;
        checker.body("body", component(defs, "BODY"), &self.components)?;
        checker.buttons("", component(defs, "BUTTONS"), &self.components)?;
        self.check_carousel(&checker, component(defs, "CAROUSEL"))?;
        let offer = component(defs, "LIMITED_TIME_OFFER");
        let expires = offer
            .and_then(|o| o.get("limited_time_offer"))
            .and_then(|o| o.get("has_expiration"))
            .and_then(|h| h.as_bool())
            .unwrap_or(false);
        let given = self
            .components
            .iter()
            .any(|c| matches!(c, Component::LimitedTimeOffer { .. }));
        match (offer.is_some(), expires, given) {
            (_, true, false) => Err(checker.fail(
                "limited_time_offer",
                "the offer has an expiration: set it with limited_time_offer",
            )),
            (false, _, true) => Err(checker.fail(
                "limited_time_offer",
                "the definition is not a limited-time offer",
            )),
            _ => Ok(()),
        }
    }

    fn check_carousel(
        &self,
        checker: &Checker<'_>,
        def: Option<&serde_json::Value>,
    ) -> Result<(), TemplateMismatch> {
        let given = self.components.iter().find_map(|c| match c {
            Component::Carousel { cards } => Some(cards.as_slice()),
            _ => None,
        });
        let defined: &[serde_json::Value] = def
            .and_then(|d| d.get("cards"))
            .and_then(|c| c.as_array())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let given = match (def.is_some(), given) {
            (false, None) => return Ok(()),
            (false, Some(_)) => {
                return Err(checker.fail("carousel", "the definition has no carousel"));
            }
            (true, None) => {
                return Err(checker.fail("carousel", "the definition is a carousel: set its cards"));
            }
            (true, Some(given)) => given,
        };
        if given.len() != defined.len() {
            return Err(checker.fail(
                "carousel",
                format!(
                    "the definition has {} card(s), got {}",
                    defined.len(),
                    given.len()
                ),
            ));
        }
        for (i, (card, def)) in given.iter().zip(defined).enumerate() {
            let defs: &[serde_json::Value] = def
                .get("components")
                .and_then(|c| c.as_array())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let parts = card.components();
            checker.header(
                &format!("carousel card {i} header"),
                component(defs, "HEADER"),
                parts,
            )?;
            checker.body(
                &format!("carousel card {i} body"),
                component(defs, "BODY"),
                parts,
            )?;
            checker.buttons(
                &format!("carousel card {i} "),
                component(defs, "BUTTONS"),
                parts,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_distinct_and_in_order() {
        assert_eq!(placeholders("Hi {{1}}, {{2}} and {{1}} again"), ["1", "2"]);
        assert_eq!(
            placeholders("{{ first_name }} {{order}}"),
            ["first_name", "order"]
        );
        assert!(placeholders("no {{ placeholders").is_empty());
        assert!(placeholders("{{}}").is_empty());
    }
}
