//! The model methods the simulator answers, with their Python signatures:
//! JSON-RPC's positional `args` and keyword `kwargs` and JSON-2's named
//! body keys are bound to one set of named parameters (a call that does not
//! fit is Python's `TypeError`), then run against the world.

use serde_json::{json, Map, Value};

use crate::sim::db::Db;
use crate::sim::error::{type_error, value_error, OdooResult};
use crate::sim::schema::Model;
use crate::sim::world::World;

/// A method's signature.
#[derive(Debug)]
pub(crate) struct Sig {
    pub method: &'static str,
    /// The one model that has it; `None` for `BaseModel` methods.
    pub model: Option<&'static str>,
    /// `@api.model`: called without records.
    pub api_model: bool,
    /// Parameters after `self`, in order.
    pub params: &'static [&'static str],
    /// How many leading parameters are required.
    pub required: usize,
}

const SIGS: &[Sig] = &[
    Sig {
        method: "search_read",
        model: None,
        api_model: true,
        params: &["domain", "fields", "offset", "limit", "order"],
        required: 0,
    },
    Sig {
        method: "search",
        model: None,
        api_model: true,
        params: &["domain", "offset", "limit", "order"],
        required: 1,
    },
    Sig {
        method: "search_count",
        model: None,
        api_model: true,
        params: &["domain", "limit"],
        required: 1,
    },
    Sig {
        method: "read",
        model: None,
        api_model: false,
        params: &["fields", "load"],
        required: 0,
    },
    Sig {
        method: "create",
        model: None,
        api_model: true,
        params: &["vals_list"],
        required: 1,
    },
    Sig {
        method: "write",
        model: None,
        api_model: false,
        params: &["vals"],
        required: 1,
    },
    Sig {
        method: "action_confirm",
        model: Some("sale.order"),
        api_model: false,
        params: &[],
        required: 0,
    },
    Sig {
        method: "action_cancel",
        model: Some("sale.order"),
        api_model: false,
        params: &[],
        required: 0,
    },
    Sig {
        method: "button_validate",
        model: Some("stock.picking"),
        api_model: false,
        params: &[],
        required: 0,
    },
    Sig {
        method: "context_get",
        model: Some("res.users"),
        api_model: true,
        params: &[],
        required: 0,
    },
];

/// The signature of `model.method`, if the simulator has it.
pub(crate) fn signature(model: &str, method: &str) -> Option<&'static Sig> {
    SIGS.iter()
        .find(|s| s.method == method && s.model.is_none_or(|m| m == model))
}

/// A call bound to its parameters.
#[derive(Debug, Default)]
pub(crate) struct Bound {
    pub ids: Vec<i64>,
    pub params: Map<String, Value>,
    pub context: Map<String, Value>,
}

impl Bound {
    fn get(&self, name: &str) -> Option<&Value> {
        self.params.get(name).filter(|v| !v.is_null())
    }

    fn active_test(&self) -> bool {
        self.context.get("active_test").and_then(Value::as_bool) != Some(false)
    }
}

fn take_context(kwargs: &mut Map<String, Value>) -> OdooResult<Map<String, Value>> {
    match kwargs.remove("context") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(c)) => Ok(c),
        Some(other) => Err(type_error(format!("context must be a dict, not {other}"))),
    }
}

fn bind_named(
    sig: &Sig,
    mut positional: Vec<Value>,
    kwargs: Map<String, Value>,
) -> OdooResult<Map<String, Value>> {
    let m = sig.method;
    if positional.len() > sig.params.len() {
        return Err(type_error(format!(
            "{m}() takes {} positional arguments but {} were given",
            sig.params.len() + 1,
            positional.len() + 1
        )));
    }
    let mut params = Map::new();
    for (name, v) in sig.params.iter().zip(positional.drain(..)) {
        params.insert((*name).to_owned(), v);
    }
    for (k, v) in kwargs {
        if !sig.params.contains(&k.as_str()) {
            return Err(type_error(format!(
                "{m}() got an unexpected keyword argument '{k}'"
            )));
        }
        if params.contains_key(&k) {
            return Err(type_error(format!(
                "{m}() got multiple values for argument '{k}'"
            )));
        }
        params.insert(k, v);
    }
    let missing: Vec<&str> = sig.params[..sig.required]
        .iter()
        .copied()
        .filter(|p| !params.contains_key(*p))
        .collect();
    if !missing.is_empty() {
        return Err(type_error(format!(
            "{m}() missing {} required positional argument: '{}'",
            missing.len(),
            missing.join("', '")
        )));
    }
    Ok(params)
}

/// Binds JSON-RPC's `execute_kw(…, args, kwargs)`: a record method takes
/// its ids as the first argument.
pub(crate) fn bind_rpc(
    sig: &Sig,
    args: Vec<Value>,
    mut kwargs: Map<String, Value>,
) -> OdooResult<Bound> {
    let context = take_context(&mut kwargs)?;
    let mut args = args.into_iter();
    let ids = if sig.api_model {
        Vec::new()
    } else {
        let first = args.next().ok_or_else(|| {
            type_error(format!(
                "{}() missing 1 required positional argument: 'self'",
                sig.method
            ))
        })?;
        World::ids_arg(&first)?
    };
    let params = bind_named(sig, args.collect(), kwargs)?;
    Ok(Bound {
        ids,
        params,
        context,
    })
}

/// Binds a JSON-2 body: `ids`, `context` and the parameters by name.
pub(crate) fn bind_json2(
    sig: &Sig,
    model: &str,
    mut body: Map<String, Value>,
) -> OdooResult<Bound> {
    let context = take_context(&mut body)?;
    let ids = match body.remove("ids") {
        Some(v) => World::ids_arg(&v)?,
        None => Vec::new(),
    };
    if sig.api_model && !ids.is_empty() {
        return Err(type_error(format!(
            "cannot call {model}.{} with ids",
            sig.method
        )));
    }
    let params = bind_named(sig, Vec::new(), body)?;
    Ok(Bound {
        ids,
        params,
        context,
    })
}

fn int_param(b: &Bound, name: &str) -> OdooResult<Option<usize>> {
    match b.get(name) {
        None | Some(Value::Bool(false)) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| type_error(format!("{name} must be an integer, not {v}"))),
    }
}

fn fields_param(b: &Bound) -> OdooResult<Vec<String>> {
    match b.get("fields") {
        None | Some(Value::Bool(false)) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| {
                f.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| type_error(format!("field names are strings, not {f}")))
            })
            .collect(),
        Some(v) => Err(type_error(format!("fields must be a list, not {v}"))),
    }
}

/// Runs a bound call.
pub(crate) fn execute(
    world: &mut World,
    model: &'static Model,
    sig: &Sig,
    b: Bound,
) -> OdooResult<Value> {
    let domain = b.get("domain").cloned().unwrap_or(json!([]));
    match sig.method {
        "search_read" => {
            let order = b.get("order").and_then(Value::as_str);
            let ids = world.db.search(
                model,
                &domain,
                order,
                int_param(&b, "offset")?.unwrap_or(0),
                int_param(&b, "limit")?,
                b.active_test(),
            )?;
            Ok(Value::Array(world.db.read(
                model,
                &ids,
                &fields_param(&b)?,
            )?))
        }
        "search" => {
            let order = b.get("order").and_then(Value::as_str);
            let ids = world.db.search(
                model,
                &domain,
                order,
                int_param(&b, "offset")?.unwrap_or(0),
                int_param(&b, "limit")?,
                b.active_test(),
            )?;
            Ok(json!(ids))
        }
        "search_count" => {
            let ids = world.db.search(
                model,
                &domain,
                None,
                0,
                int_param(&b, "limit")?,
                b.active_test(),
            )?;
            Ok(json!(ids.len()))
        }
        "read" => Ok(Value::Array(world.db.read(
            model,
            &b.ids,
            &fields_param(&b)?,
        )?)),
        "create" => match b.get("vals_list") {
            Some(Value::Array(list)) => {
                let ids = list
                    .iter()
                    .map(|vals| world.create(model, vals))
                    .collect::<OdooResult<Vec<i64>>>()?;
                Ok(json!(ids))
            }
            Some(vals @ Value::Object(_)) => Ok(json!(world.create(model, vals)?)),
            other => Err(value_error(format!(
                "create takes a dict or a list of dicts, not {other:?}"
            ))),
        },
        "write" => {
            let vals = b.get("vals").cloned().unwrap_or(Value::Null);
            world.write(model, &b.ids, &vals)?;
            Ok(json!(true))
        }
        "action_confirm" => {
            world.action_confirm(&b.ids)?;
            Ok(json!(true))
        }
        "action_cancel" => world.action_cancel(&b.ids, &b.context),
        "button_validate" => {
            world.button_validate(&b.ids)?;
            Ok(json!(true))
        }
        "context_get" => Ok(world.context_get()),
        other => Err(value_error(format!("the simulator has no {other}"))),
    }
}

/// `model`, or the error the protocol raises for an unknown one.
pub(crate) fn model(name: &str) -> OdooResult<&'static Model> {
    Db::model(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::error::Exc;

    fn sig(method: &str) -> &'static Sig {
        signature("sale.order", method).unwrap()
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn rpc_arguments_bind_by_position_then_keyword() {
        let b = bind_rpc(
            sig("search_read"),
            vec![json!([["state", "=", "sale"]]), json!(["name"])],
            obj(json!({"limit": 5, "context": {"lang": "en_US"}})),
        )
        .unwrap();
        assert_eq!(b.params["domain"], json!([["state", "=", "sale"]]));
        assert_eq!(b.params["fields"], json!(["name"]));
        assert_eq!(b.params["limit"], json!(5));
        assert_eq!(b.context["lang"], "en_US");
        let b = bind_rpc(
            sig("read"),
            vec![json!([3, 4]), json!(["name"])],
            Map::new(),
        )
        .unwrap();
        assert_eq!(b.ids, [3, 4]);
        let b = bind_rpc(sig("action_confirm"), vec![json!(7)], Map::new()).unwrap();
        assert_eq!(b.ids, [7]);
    }

    #[test]
    fn calls_that_do_not_fit_are_type_errors() {
        for (method, args, kwargs) in [
            ("search_read", vec![json!([])], json!({"domain": []})),
            ("search_read", vec![], json!({"colour": "red"})),
            ("create", vec![], json!({})),
            ("write", vec![json!([1])], json!({})),
            ("read", vec![], json!({})),
            ("read", vec![json!("x")], json!({})),
            ("action_confirm", vec![json!([1]), json!(2)], json!({})),
        ] {
            let err = bind_rpc(sig(method), args.clone(), obj(kwargs.clone())).unwrap_err();
            assert_eq!(err.exc, Exc::TypeError, "{method} {args:?} {kwargs}");
        }
    }

    #[test]
    fn json2_bodies_bind_by_name() {
        let b = bind_json2(
            sig("write"),
            "sale.order",
            obj(json!({"ids": [1], "vals": {"note": "x"}})),
        )
        .unwrap();
        assert_eq!(b.ids, [1]);
        assert_eq!(b.params["vals"], json!({"note": "x"}));
        let err = bind_json2(
            sig("search"),
            "sale.order",
            obj(json!({"ids": [1], "domain": []})),
        )
        .unwrap_err();
        assert_eq!(err.exc, Exc::TypeError);
        let err = bind_json2(sig("create"), "sale.order", obj(json!({"vals": {}}))).unwrap_err();
        assert_eq!(err.exc, Exc::TypeError);
    }

    #[test]
    fn methods_belong_to_their_models() {
        assert!(signature("sale.order", "action_confirm").is_some());
        assert!(signature("stock.picking", "action_confirm").is_none());
        assert!(signature("res.partner", "search_read").is_some());
        assert!(signature("res.partner", "unlink").is_none());
    }
}
