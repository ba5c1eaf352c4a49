//! `support_desk`: the two-way loop in the sandbox (issue 23, item 6).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    dead_code,
    unreachable_pub
)]

#[path = "../examples/support_desk.rs"]
mod support_desk;

use examples::{Backends, Stores};

#[tokio::test]
async fn a_case_an_agents_answer_a_template_a_day_later_and_one_sms() {
    let b = Backends::sandbox().await.unwrap();
    let stores = Stores::memory().unwrap();
    let s = support_desk::story(&b, &stores).await.unwrap();
    let number = s.case_number.clone().expect("a Case opened");
    assert_eq!(s.whatsapp.len(), 3, "{:?}", s.whatsapp);
    assert_eq!(s.whatsapp[0].0, "text");
    assert!(
        s.whatsapp[0].1.contains(&number),
        "the reply carries the case number"
    );
    assert_eq!(
        s.whatsapp[1],
        (
            "document".to_owned(),
            "A replacement ships today; the return label is attached.".to_owned()
        ),
        "inside the window: the agent's own words, with the file they attached"
    );
    assert_eq!(
        s.whatsapp[2],
        ("template".to_owned(), "agent_followup".to_owned()),
        "25 hours later: the template"
    );
    assert_eq!(
        s.sms,
        ["Did the replacement arrive in good shape?"],
        "the undeliverable message goes by SMS, once"
    );
}
