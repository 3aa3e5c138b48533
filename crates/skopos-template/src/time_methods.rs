//! Go's methods of `time.Time` in templates: `{{.Created.Format "2006-01-02"}}`,
//! `{{.Created.Year}}`, `{{.Created.UTC.Unix}}`. gotmpl has no methods, and a `*time.Time`
//! of the data is a string to it, so every field chain that calls a method of a time (as
//! Go's types tell, where they are known without running the template) is rewritten into
//! a call of [`TIME_FUNCTION`], which runs the methods on the time [`GoForms`] remembers
//! and fails where and as Go fails: a wrong number of arguments, an argument of the wrong
//! type, a method with results a template cannot take, a nil `*time.Time`.
//!
//! Times print as Go prints them in a zone named `UTC` (what skopeo's parser gives a
//! `Z` time on the machines it runs on; see `GoTime::to_go_string`), so `.Local` is
//! `.UTC`. Results keep their value, not their Go type: `{{printf "%T" .Created.Unix}}`
//! says `int`, not `int64`, and a `time.Month` is its name.

use std::sync::Arc;

use gotmpl::parse::{CommandNode, Expr, Number, PipeNode};
use gotmpl::{Template, TemplateError, Value};
use skopos_core::go::time::{GoTime, MONTH_NAMES, WEEKDAY_NAMES};

use crate::go_exec::{self, located_failure, Types};
use crate::go_rewrite::{for_each_command, rewrite_trees};
use crate::go_syntax::{self, Arg};
use crate::GoForms;

/// The function a field chain calling methods of a time becomes:
/// `_skopos_time CALL RECEIVER OPERANDS…`, `CALL` being the chain's index in the
/// [`TimeCall`]s the template was rewritten with.
pub(crate) const TIME_FUNCTION: &str = "_skopos_time";

/// A field chain of the template that calls methods of a time.
#[derive(Debug, Clone)]
pub(crate) struct TimeCall {
    /// The byte offset of the command holding the chain.
    command: usize,
    /// The chain's index among the command's operands (0: it is what the command calls).
    operand_index: usize,
    /// How many names of the chain lead to the time (0: dot is the time).
    receiver_names: usize,
    /// The methods called, one on the result of the other.
    methods: Vec<String>,
    /// Where Go reports failures of the chain, and how it writes the chain.
    pos: usize,
    context: String,
    /// The operands given to the last method (when the chain is what the command calls).
    operands: Vec<Operand>,
}

/// An operand of a method call, as written.
#[derive(Debug, Clone)]
struct Operand {
    /// Where Go reports a failure of the operand, and how it writes it.
    pos: usize,
    context: String,
    /// Go's refusal of a constant that does not fit the parameter.
    constant_refused: Option<String>,
    /// Whether it is a constant (which Go converts to the parameter's type).
    constant: bool,
    /// Its Go type when known without running the template (`int64` of a layer size).
    go_type: Option<String>,
}

/// The parameter types of a method of a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parameter {
    String,
    Int,
    Duration,
    /// A type no supported method takes (`time.Time`, `[]byte`, `*time.Location`).
    Other,
}

/// What a method of a time gives a template.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// A value this module computes.
    Computed,
    /// Go refuses to call it in a template: its results (`Date` has three).
    Refused(&'static str),
    /// A method skopos does not run: it compares with or writes into values templates
    /// here cannot hold (another `time.Time`, a `*time.Location`, a `[]byte`).
    Unsupported,
}

/// Every method of `time.Time` and `*time.Time`, with its parameters and what it gives.
const METHODS: &[(&str, &[Parameter], Outcome)] = {
    use Outcome::{Computed, Refused, Unsupported};
    use Parameter::{Duration, Int, Other, String};
    const NONE: &[Parameter] = &[];
    const THREE_RESULTS: Outcome = Refused("has 3 return values; should be 1 or 2");
    const SECOND_INT: Outcome = Refused("second return value should be error; is int");
    &[
        ("Add", &[Duration], Computed),
        ("AddDate", &[Int, Int, Int], Computed),
        ("After", &[Other], Unsupported),
        ("AppendBinary", &[Other], Unsupported),
        ("AppendFormat", &[Other, String], Unsupported),
        ("AppendText", &[Other], Unsupported),
        ("Before", &[Other], Unsupported),
        ("Clock", NONE, THREE_RESULTS),
        ("Compare", &[Other], Unsupported),
        ("Date", NONE, THREE_RESULTS),
        ("Day", NONE, Computed),
        ("Equal", &[Other], Unsupported),
        ("Format", &[String], Computed),
        ("GoString", NONE, Computed),
        ("GobDecode", &[Other], Unsupported),
        ("GobEncode", NONE, Unsupported),
        ("Hour", NONE, Computed),
        ("ISOWeek", NONE, SECOND_INT),
        ("In", &[Other], Unsupported),
        ("IsDST", NONE, Computed),
        ("IsZero", NONE, Computed),
        ("Local", NONE, Computed),
        ("Location", NONE, Computed),
        ("MarshalBinary", NONE, Unsupported),
        ("MarshalJSON", NONE, Computed),
        ("MarshalText", NONE, Computed),
        ("Minute", NONE, Computed),
        ("Month", NONE, Computed),
        ("Nanosecond", NONE, Computed),
        ("Round", &[Duration], Computed),
        ("Second", NONE, Computed),
        ("String", NONE, Computed),
        ("Sub", &[Other], Unsupported),
        ("Truncate", &[Duration], Computed),
        ("UTC", NONE, Computed),
        ("Unix", NONE, Computed),
        ("UnixMicro", NONE, Computed),
        ("UnixMilli", NONE, Computed),
        ("UnixNano", NONE, Computed),
        ("UnmarshalBinary", &[Other], Unsupported),
        ("UnmarshalJSON", &[Other], Unsupported),
        ("UnmarshalText", &[Other], Unsupported),
        ("Weekday", NONE, Computed),
        ("Year", NONE, Computed),
        ("YearDay", NONE, Computed),
        ("Zone", NONE, SECOND_INT),
        (
            "ZoneBounds",
            NONE,
            Refused("second return value should be error; is time.Time"),
        ),
    ]
};

fn method(name: &str) -> Option<(&'static [Parameter], Outcome)> {
    METHODS
        .iter()
        .find(|(method, ..)| *method == name)
        .map(|&(_, parameters, outcome)| (parameters, outcome))
}

/// The Go type of what method `name` of a value of type `receiver` returns, when that is
/// a time's (or a `time.Month`'s, `time.Weekday`'s) method templates can call.
pub(crate) fn result_type(receiver: &str, name: &str) -> Option<&'static str> {
    match receiver {
        "time.Month" | "time.Weekday" if name == "String" => return Some("string"),
        "*time.Time" | "time.Time" => {}
        _ => return None,
    }
    Some(match name {
        "Add" | "AddDate" | "Local" | "Round" | "Truncate" | "UTC" => "time.Time",
        "Day" | "Hour" | "Minute" | "Nanosecond" | "Second" | "Year" | "YearDay" => "int",
        "Unix" | "UnixMicro" | "UnixMilli" | "UnixNano" => "int64",
        "Format" | "GoString" | "String" => "string",
        "IsDST" | "IsZero" => "bool",
        "Month" => "time.Month",
        "Weekday" => "time.Weekday",
        "Location" => "*time.Location",
        "MarshalJSON" | "MarshalText" => "[]uint8",
        _ => return None,
    })
}

fn is_time(go_type: Option<&str>) -> bool {
    matches!(go_type, Some("*time.Time" | "time.Time"))
}

/// The field chains of `tree` (Go's parse of the template) that call methods of a time.
pub(crate) fn find(tree: &[go_syntax::Node], types: &Types<'_>) -> Vec<TimeCall> {
    let mut calls = Vec::new();
    for (command, dot) in go_exec::commands(tree, types) {
        let dot = dot.as_deref();
        for (operand_index, arg) in command.args.iter().enumerate() {
            let Arg::Field(pos, names) = arg else {
                continue;
            };
            let leads_to_time = |count: usize| {
                let go_type = match count {
                    0 => types.of(&Arg::Dot(*pos), dot),
                    _ => dot.and_then(|dot| types.path(dot, &names[..count])),
                };
                is_time(go_type.as_deref()) && method(&names[count]).is_some()
            };
            let Some(receiver_names) = (0..names.len()).find(|&count| leads_to_time(count)) else {
                continue;
            };
            let methods = names[receiver_names..].to_vec();
            let operands = match operand_index {
                0 => {
                    let parameters = methods
                        .last()
                        .and_then(|last| method(last))
                        .map_or(&[][..], |(parameters, _)| parameters);
                    command.args[1..]
                        .iter()
                        .enumerate()
                        .map(|(index, operand)| {
                            describe(operand, parameters.get(index).copied(), types, dot)
                        })
                        .collect()
                }
                _ => Vec::new(),
            };
            calls.push(TimeCall {
                command: command.pos,
                operand_index,
                receiver_names,
                methods,
                pos: arg.pos(),
                context: arg.to_string(),
                operands,
            });
        }
    }
    calls
}

/// What a method needs to know of `operand`, given to a `parameter` of its.
fn describe(
    operand: &Arg,
    parameter: Option<Parameter>,
    types: &Types<'_>,
    dot: Option<&str>,
) -> Operand {
    let constant = matches!(
        operand,
        Arg::Number(..) | Arg::Bool(..) | Arg::String(..) | Arg::Nil(_)
    );
    let constant_refused = match (constant, parameter) {
        (false, _) | (_, None | Some(Parameter::Other)) => None,
        (true, Some(Parameter::String)) => go_exec::literal_mismatch(operand, "string"),
        (true, Some(Parameter::Int)) => go_exec::literal_mismatch(operand, "int"),
        (true, Some(Parameter::Duration)) => match operand {
            Arg::Nil(_) => Some("cannot assign nil to time.Duration".to_string()),
            // A `Duration` is an `int64`: Go takes integer constants for it.
            _ => go_exec::literal_mismatch(operand, "int"),
        },
    };
    let blamed = go_exec::last_visited(operand);
    Operand {
        pos: blamed.pos(),
        context: blamed.to_string(),
        constant_refused,
        constant,
        go_type: types.of(operand, dot),
    }
}

/// `template` with each of `calls` made a call of [`TIME_FUNCTION`], which it gains.
pub(crate) fn call_time_methods(
    template: Template,
    calls: Vec<TimeCall>,
    forms: &Arc<GoForms>,
) -> Template {
    if calls.is_empty() {
        return template;
    }
    let template = rewrite_trees(template, &mut |nodes| {
        for_each_command(nodes, &mut |command| {
            for (index, call) in calls.iter().enumerate() {
                if call.command == command.pos.offset {
                    rewrite_command(command, index, call);
                }
            }
        });
    });
    let forms = Arc::clone(forms);
    template.func(TIME_FUNCTION, move |args: &[Value]| {
        run(&forms, &calls, args)
    })
}

/// `command` with the chain `call` (number `index`) made a call of [`TIME_FUNCTION`].
fn rewrite_command(command: &mut CommandNode, index: usize, call: &TimeCall) {
    let Some(Expr::Field(pos, names)) = command.args.get(call.operand_index) else {
        return;
    };
    if names.len() != call.receiver_names + call.methods.len() {
        return;
    }
    let pos = *pos;
    let receiver = match call.receiver_names {
        0 => Expr::Dot(pos),
        count => Expr::Field(pos, names[..count].to_vec()),
    };
    let index = i64::try_from(index).unwrap_or(i64::MAX);
    let mut call_args = vec![
        Expr::Identifier(pos, TIME_FUNCTION.into()),
        Expr::Number(pos, Number::Int(index)),
        receiver,
    ];
    if call.operand_index == 0 {
        call_args.extend(command.args.drain(1..));
        command.args = call_args;
    } else {
        command.args[call.operand_index] = Expr::Pipe(
            pos,
            PipeNode {
                pos,
                decl: Vec::new(),
                commands: vec![CommandNode {
                    pos,
                    args: call_args,
                }],
                is_assign: false,
            },
        );
    }
}

/// A value met along a chain of methods, with what Go knows of its type.
enum Got {
    /// A `*time.Time` of the data (`None`: nil) or a `time.Time` a method returned.
    Time {
        time: Option<GoTime>,
        pointer: bool,
    },
    Int(i64),
    Bool(bool),
    Text(String),
    Month(u32),
    Weekday(u32),
    Bytes(Vec<u8>),
    /// A `*time.Location`, by its name.
    Location(&'static str),
}

impl Got {
    fn go_type(&self) -> &'static str {
        match self {
            Got::Time { pointer: true, .. } => "*time.Time",
            Got::Time { .. } => "time.Time",
            Got::Int(_) => "int",
            Got::Bool(_) => "bool",
            Got::Text(_) => "string",
            Got::Month(_) => "time.Month",
            Got::Weekday(_) => "time.Weekday",
            Got::Bytes(_) => "[]uint8",
            Got::Location(_) => "*time.Location",
        }
    }

    fn into_value(self) -> Value {
        match self {
            Got::Time { time: None, .. } => Value::String("<nil>".into()),
            Got::Time {
                time: Some(time), ..
            } => Value::String(time.to_go_string().into()),
            Got::Int(number) => Value::Int(number),
            Got::Bool(flag) => Value::Bool(flag),
            Got::Text(text) => Value::String(text.into()),
            Got::Month(month) => Value::String(MONTH_NAMES[month as usize - 1].into()),
            Got::Weekday(day) => Value::String(WEEKDAY_NAMES[day as usize].into()),
            Got::Bytes(bytes) => {
                Value::List(bytes.into_iter().map(|b| Value::Uint(b.into())).collect())
            }
            Got::Location(name) => Value::String(name.into()),
        }
    }
}

/// [`TIME_FUNCTION`]: `args` are the call's index, the receiver, and the operands of the
/// last method (the piped value last).
fn run(forms: &GoForms, calls: &[TimeCall], args: &[Value]) -> Result<Value, TemplateError> {
    let internal = || TemplateError::Exec(format!("{TIME_FUNCTION}: malformed call"));
    let [Value::Int(index), receiver, operands @ ..] = args else {
        return Err(internal());
    };
    let call = usize::try_from(*index)
        .ok()
        .and_then(|index| calls.get(index))
        .ok_or_else(internal)?;
    let mut got = match forms.time(receiver) {
        Some(time) => Got::Time {
            time,
            pointer: true,
        },
        None => {
            let first = call.methods.first().ok_or_else(internal)?;
            let message = format!(
                "can't evaluate field {first} in type {}",
                forms.go_type(receiver)
            );
            return Err(call.fail(&message));
        }
    };
    for (step, name) in call.methods.iter().enumerate() {
        let given = if step + 1 == call.methods.len() {
            operands
        } else {
            &[]
        };
        got = call.apply(forms, got, name, given)?;
    }
    Ok(got.into_value())
}

impl TimeCall {
    /// Go's failure of the chain itself.
    fn fail(&self, message: &str) -> TemplateError {
        located_failure(self.pos, &self.context, message)
    }

    /// Method `name` of `got`, with `given` operands.
    fn apply(
        &self,
        forms: &GoForms,
        got: Got,
        name: &str,
        given: &[Value],
    ) -> Result<Got, TemplateError> {
        let wrong_count = |want: usize| {
            self.fail(&format!(
                "wrong number of args for {name}: want {want} got {}",
                given.len()
            ))
        };
        let Got::Time { time, pointer } = got else {
            // `time.Month`, `time.Weekday` and `*time.Location` have one method.
            let named = match (&got, name) {
                (Got::Month(month), "String") => MONTH_NAMES[*month as usize - 1],
                (Got::Weekday(day), "String") => WEEKDAY_NAMES[*day as usize],
                (Got::Location(zone), "String") => zone,
                _ => {
                    let message = format!("can't evaluate field {name} in type {}", got.go_type());
                    return Err(self.fail(&message));
                }
            };
            if !given.is_empty() {
                return Err(wrong_count(0));
            }
            return Ok(Got::Text(named.to_string()));
        };
        let Some((parameters, outcome)) = method(name) else {
            let go_type = if pointer { "*time.Time" } else { "time.Time" };
            return Err(self.fail(&format!("can't evaluate field {name} in type {go_type}")));
        };
        if given.len() != parameters.len() {
            return Err(wrong_count(parameters.len()));
        }
        match outcome {
            Outcome::Refused(reason) if reason.starts_with("has ") => {
                return Err(self.fail(&format!("function {name} {reason}")));
            }
            Outcome::Refused(reason) => {
                return Err(self.fail(&format!("invalid function signature for {name}: {reason}")));
            }
            Outcome::Computed | Outcome::Unsupported => {}
        }
        if matches!(outcome, Outcome::Computed) {
            self.check_operands(forms, given, parameters)?;
        }
        let Some(time) = time else {
            return Err(self.fail(&format!(
                "error calling {name}: value method time.Time.{name} called using nil *Time pointer"
            )));
        };
        if matches!(outcome, Outcome::Unsupported) {
            return Err(self.fail(&format!(
                "error calling {name}: skopos does not run this method of time.Time in templates"
            )));
        }
        compute(&time, name, given).ok_or_else(|| {
            self.fail(&format!(
                "error calling {name}: the result is outside the years 0000 to 9999 skopos represents"
            ))
        })
    }

    /// Go's refusal of an operand that does not fit its parameter, where Go reports it.
    fn check_operands(
        &self,
        forms: &GoForms,
        given: &[Value],
        parameters: &[Parameter],
    ) -> Result<(), TemplateError> {
        for (index, (value, parameter)) in given.iter().zip(parameters).enumerate() {
            let written = self.operands.get(index);
            if let Some(operand) = written {
                if let Some(refusal) = &operand.constant_refused {
                    return Err(located_failure(operand.pos, &operand.context, refusal));
                }
                if operand.constant {
                    continue;
                }
            }
            let known_type = written.and_then(|operand| operand.go_type.clone());
            let go_type = known_type.unwrap_or_else(|| forms.go_type(value));
            let wanted = match parameter {
                Parameter::String if forms.is_plain_string(value) && go_type == "string" => {
                    continue
                }
                Parameter::Int if matches!(value, Value::Int(_)) && go_type == "int" => continue,
                Parameter::String => "string",
                Parameter::Int => "int",
                Parameter::Duration => "time.Duration",
                Parameter::Other => continue,
            };
            let message = format!("wrong type for value; expected {wanted}; got {go_type}");
            // Go reports the piped value at the last operand written, or at the chain.
            let (pos, context) = match written.or(self.operands.last()) {
                Some(operand) => (operand.pos, operand.context.as_str()),
                None => (self.pos, self.context.as_str()),
            };
            return Err(located_failure(pos, context, &message));
        }
        Ok(())
    }
}

/// Method `name` of `time` with `given` (checked) operands; `None` when the resulting
/// time is outside the years [`GoTime`] represents.
fn compute(time: &GoTime, name: &str, given: &[Value]) -> Option<Got> {
    let int = |index: usize| match given.get(index) {
        Some(Value::Int(number)) => Some(*number),
        _ => None,
    };
    let as_time = |time: GoTime| Got::Time {
        time: Some(time),
        pointer: false,
    };
    let unix_nanos = time.unix_nanos();
    Some(match name {
        "Add" => as_time(time.add_nanos(int(0)?)?),
        "AddDate" => as_time(time.add_date(int(0)?, int(1)?, int(2)?)?),
        "Day" => Got::Int(time.day().into()),
        "Format" => match given.first() {
            Some(Value::String(layout)) => Got::Text(time.format(layout)),
            _ => return None,
        },
        "GoString" => Got::Text(time.to_go_syntax()),
        "Hour" => Got::Int(time.hour().into()),
        "IsDST" => Got::Bool(false),
        "IsZero" => Got::Bool(time.is_zero()),
        // The machine's zone is UTC, as everywhere in this module.
        "Local" | "UTC" => as_time(time.utc()),
        "Location" => Got::Location(time.zone_name()),
        "MarshalJSON" => Got::Bytes(format!("\"{}\"", time.to_rfc3339_nano()).into_bytes()),
        "MarshalText" => Got::Bytes(time.to_rfc3339_nano().into_bytes()),
        "Minute" => Got::Int(time.minute().into()),
        "Month" => Got::Month(time.month()),
        "Nanosecond" => Got::Int(time.nanosecond().into()),
        "Round" => as_time(time.round(int(0)?)?),
        "Second" => Got::Int(time.second().into()),
        "String" => Got::Text(time.to_go_string()),
        "Truncate" => as_time(time.truncate(int(0)?)?),
        "Unix" => Got::Int(time.unix_seconds()),
        "UnixMicro" => Got::Int(unix_nanos.div_euclid(1_000) as i64),
        "UnixMilli" => Got::Int(unix_nanos.div_euclid(1_000_000) as i64),
        // Go's `UnixNano` wraps outside the years 1678 to 2262, as this cast does.
        "UnixNano" => Got::Int(unix_nanos as i64),
        "Weekday" => Got::Weekday(time.weekday()),
        "Year" => Got::Int(time.year()),
        "YearDay" => Got::Int(time.year_day().into()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use gotmpl::{tmap, Value};

    use crate::{render, GoForms};

    /// Data with a `Created` time (or nil) as the CLI gives it: printed as Go prints it,
    /// marshalled as RFC 3339, typed `*time.Time`.
    fn render_created(created: Option<&str>, format: &str) -> Result<String, String> {
        let mut forms = GoForms::default();
        let printed = match created {
            Some(text) => skopos_core::go::time::GoTime::parse_rfc3339(text)
                .expect("a test time")
                .to_go_string(),
            None => "<nil>".to_string(),
        };
        let value = forms.remember_json(Value::String(printed.into()), &created);
        let value = forms.remember_type(value, "*time.Time");
        let data = tmap! { "Created" => value, "Os" => "linux" };
        let fields = [("Created", "*time.Time"), ("Os", "string")];
        render(format, data, forms, &fields).map_err(|failure| failure.error.to_string())
    }

    #[test]
    fn methods_of_a_time_run_where_go_runs_them() {
        let created = Some("2024-02-29T23:30:00.5-01:00");
        let printed = render_created(
            created,
            "{{.Created.Format \"Mon 2 Jan 2006 15:04:05.0 -07:00\"}} {{.Created.UTC.Year}} {{printf \"%d\" .Created.YearDay}} {{\"Jan\" | .Created.Format}} {{with .Created}}{{.Weekday}}{{end}}",
        );
        assert_eq!(
            printed.as_deref(),
            Ok("Thu 29 Feb 2024 23:30:00.5 -01:00 2024 60 Feb Thursday\n")
        );
        // `.UTC` crosses into March 1st.
        assert_eq!(
            render_created(created, "{{.Created.UTC.Month}} {{.Created.UTC.Day}}").as_deref(),
            Ok("March 1\n")
        );
    }

    #[test]
    fn misused_methods_fail_as_in_go() {
        let created = Some("2024-01-01T00:00:00Z");
        assert_eq!(
            render_created(created, "{{.Created.Format}}").unwrap_err(),
            "template: skopeo inspect:1:21: executing \"skopeo inspect\" at <.Created.Format>: wrong number of args for Format: want 1 got 0"
        );
        assert_eq!(
            render_created(created, "{{.Created.AddDate 1 \"x\" 0}}").unwrap_err(),
            "template: skopeo inspect:1:32: executing \"skopeo inspect\" at <\"x\">: expected integer; found \"x\""
        );
        assert_eq!(
            render_created(None, "{{.Created.Unix}}").unwrap_err(),
            "template: skopeo inspect:1:21: executing \"skopeo inspect\" at <.Created.Unix>: error calling Unix: value method time.Time.Unix called using nil *Time pointer"
        );
        // Not a method of a time: the field is refused as before.
        assert_eq!(
            render_created(created, "{{.Created.Nope}}").unwrap_err(),
            "template: skopeo inspect:1:21: executing \"skopeo inspect\" at <.Created.Nope>: can't evaluate field Nope in type *time.Time"
        );
    }
}
