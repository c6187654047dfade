//! The statement parser and the planner, from text to plan: every
//! statement is planned against a preset schema (a select as an aggregate
//! or raw-row plan, a CREATE RULE by the rule registry), on one and on
//! several cells, so that WHERE and FILTER are evaluated too.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use tally::event::Schema;
use tally::query::{is_raw, parse, plan, plan_raw, Catalog, HitLog, Params, Statement};
use tally::rules::Rules;
use tally::Value;

fn schemas() -> &'static [Schema] {
    static SCHEMAS: OnceLock<Vec<Schema>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        ["reels", "shop"]
            .iter()
            .map(|name| Schema::preset(name).expect("preset"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut params = Params::new();
    params.insert("user".into(), tally::query::Literal::Int(42));
    let Ok(statements) = parse(text, &params) else {
        return;
    };
    // Two cells of reels' dimensions (event_type, device) and of shop's.
    let cells: [Vec<Arc<[Value]>>; 2] = [
        vec![
            Arc::from(vec![Value::Str("video_view".into()), Value::Str("mobile".into())]),
            Arc::from(vec![Value::Str("like".into()), Value::Null]),
        ],
        vec![Arc::from(vec![Value::Str("purchase".into())])],
    ];
    for (schema, cells) in schemas().iter().zip(&cells) {
        let catalog = Catalog {
            schema,
            cells,
            now_ms: Some(1_736_942_400_000),
            retention_ms: 24 * 3_600_000,
            shards: 2,
            recent_events: 100,
            events_store: false,
            rule_hits: HitLog::default(),
        };
        for statement in &statements {
            match statement {
                Statement::Select(select) | Statement::Explain(select) => {
                    let _ = if is_raw(select) {
                        plan_raw(select, &catalog).map(|p| p.to_string())
                    } else {
                        plan(select, &catalog).map(|p| p.to_string())
                    };
                }
                Statement::CreateRule(def) => {
                    let _ = Rules::default().create(def, &catalog, 0);
                }
                _ => {}
            }
        }
    }
});
