//! Rule variables (`var`, `ipvar`, `portvar`) and the address/port grammar they share with rule
//! headers, with Snort's built-in defaults and its negation semantics.
//!
//! Values are kept as parsed expression trees and resolved lazily, so a `--vars` file that
//! redefines `HOME_NET` also changes `HTTP_SERVERS` (whose default is `$HOME_NET`), as it would
//! in a snort.conf. Resolution flattens nested and negated lists into an include/exclude set
//! ([`AddrSet`], [`PortSet`]). Not a config-file reader: see [`crate::load`].

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, digit1, multispace0};
use nom::combinator::{all_consuming, map, opt};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use crate::ast::{AddrSet, PortSet};

/// How deep variables may refer to variables before resolution gives up (catches cycles).
pub const MAX_VAR_NESTING: usize = 32;

/// An address or port expression as written: `any`, a leaf (an address/CIDR, or a port range),
/// `$VAR`, `[...]`, `!x`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetExpr<T> {
    Any,
    Leaf(T),
    Var(String),
    List(Vec<SetExpr<T>>),
    Not(Box<SetExpr<T>>),
}

impl<T: Clone> SetExpr<T> {
    /// A definition that names its own variable (`ipvar HOME_NET [$HOME_NET,10.9.0.0/16]`)
    /// extends the previous value, as Snort (which resolves at definition time) reads it.
    fn substitute_self(self, name: &str, previous: Option<&SetExpr<T>>) -> Result<Self, String> {
        Ok(match self {
            SetExpr::Var(var) if var == name => previous
                .cloned()
                .ok_or_else(|| format!("variable {name} refers to itself before it is defined"))?,
            SetExpr::List(items) => SetExpr::List(
                items
                    .into_iter()
                    .map(|item| item.substitute_self(name, previous))
                    .collect::<Result<_, _>>()?,
            ),
            SetExpr::Not(inner) => SetExpr::Not(Box::new(inner.substitute_self(name, previous)?)),
            other => other,
        })
    }
}

/// `any`, `10.0.0.0/8`, `$HOME_NET`, `[a,!b]`, `!a`.
pub type AddrExpr = SetExpr<IpNet>;
/// `any`, `80`, `1024:`, `:1023`, `$HTTP_PORTS`, `[a,!b]`, `!a`. Ranges are inclusive.
pub type PortExpr = SetExpr<(u16, u16)>;

/// What a leaf type needs to resolve variables: which definition and cache it uses.
trait Member: Clone {
    /// For messages: "address" or "port".
    const WHAT: &'static str;
    fn definition(def: &VarDef) -> Option<&SetExpr<Self>>;
    fn cache(vars: &mut Vars) -> &mut HashMap<String, Flat<Self>>;
}

impl Member for IpNet {
    const WHAT: &'static str = "address";
    fn definition(def: &VarDef) -> Option<&AddrExpr> {
        def.addr.as_ref()
    }
    fn cache(vars: &mut Vars) -> &mut HashMap<String, Flat<IpNet>> {
        &mut vars.addr_cache
    }
}

impl Member for (u16, u16) {
    const WHAT: &'static str = "port";
    fn definition(def: &VarDef) -> Option<&PortExpr> {
        def.port.as_ref()
    }
    fn cache(vars: &mut Vars) -> &mut HashMap<String, Flat<(u16, u16)>> {
        &mut vars.port_cache
    }
}

/// Which statement defined a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    /// `var`: an address, a port set, or (for include paths) plain text.
    Any,
    Ip,
    Port,
}

/// One defined variable.
#[derive(Clone, Debug)]
struct VarDef {
    raw: String,
    addr: Option<AddrExpr>,
    port: Option<PortExpr>,
}

/// The variable table. Starts with Snort's snort.conf defaults ([`Vars::with_defaults`]).
#[derive(Clone, Debug, Default)]
pub struct Vars {
    defs: HashMap<String, VarDef>,
    addr_cache: HashMap<String, Flat<IpNet>>,
    port_cache: HashMap<String, Flat<(u16, u16)>>,
    /// Every address list handed out, so equal lists share one allocation.
    addr_lists: HashSet<Arc<[IpNet]>>,
}

/// snort.conf's defaults (Snort 2.9.x), plus the `*_SERVERS` ET expects.
const DEFAULTS: &[(&str, VarKind, &str)] = &[
    ("HOME_NET", VarKind::Ip, "any"),
    ("EXTERNAL_NET", VarKind::Ip, "any"),
    ("DNS_SERVERS", VarKind::Ip, "$HOME_NET"),
    ("SMTP_SERVERS", VarKind::Ip, "$HOME_NET"),
    ("HTTP_SERVERS", VarKind::Ip, "$HOME_NET"),
    ("SQL_SERVERS", VarKind::Ip, "$HOME_NET"),
    ("TELNET_SERVERS", VarKind::Ip, "$HOME_NET"),
    ("SSH_SERVERS", VarKind::Ip, "$HOME_NET"),
    ("FTP_SERVERS", VarKind::Ip, "$HOME_NET"),
    ("SIP_SERVERS", VarKind::Ip, "$HOME_NET"),
    ("SNMP_SERVERS", VarKind::Ip, "$HOME_NET"),
    ("DNP3_SERVER", VarKind::Ip, "$HOME_NET"),
    ("DNP3_CLIENT", VarKind::Ip, "$HOME_NET"),
    ("MODBUS_SERVER", VarKind::Ip, "$HOME_NET"),
    ("MODBUS_CLIENT", VarKind::Ip, "$HOME_NET"),
    ("ENIP_SERVER", VarKind::Ip, "$HOME_NET"),
    ("ENIP_CLIENT", VarKind::Ip, "$HOME_NET"),
    (
        "AIM_SERVERS",
        VarKind::Ip,
        "[64.12.24.0/23,64.12.28.0/23,64.12.161.0/24,64.12.163.0/24,64.12.200.0/24,\
         205.188.3.0/24,205.188.5.0/24,205.188.7.0/24,205.188.9.0/24,205.188.153.0/24,\
         205.188.179.0/24,205.188.248.0/24]",
    ),
    (
        "HTTP_PORTS",
        VarKind::Port,
        "[36,80,81,82,83,84,85,86,87,88,89,90,311,383,555,591,593,631,801,808,818,901,972,1158,\
         1220,1414,1533,1741,1830,1942,2231,2301,2381,2578,2809,2980,3029,3037,3057,3128,3443,\
         3702,4000,4343,4848,5000,5117,5250,5450,5600,5814,6080,6173,6988,7000,7001,7005,7071,\
         7144,7145,7510,7770,7777,7778,7779,8000,8001,8008,8014,8015,8020,8028,8040,8080,8081,\
         8082,8085,8088,8090,8118,8123,8180,8181,8182,8222,8243,8280,8300,8333,8344,8400,8443,\
         8500,8509,8787,8800,8888,8899,8983,9000,9002,9060,9080,9090,9091,9111,9290,9443,9447,\
         9710,9788,9999,10000,11371,12601,13014,15489,19980,29991,33300,34412,34443,34444,\
         40007,41080,44449,50000,50002,51423,53331,55252,55555,56712]",
    ),
    ("SHELLCODE_PORTS", VarKind::Port, "!80"),
    ("ORACLE_PORTS", VarKind::Port, "1024:"),
    ("SSH_PORTS", VarKind::Port, "22"),
    ("FTP_PORTS", VarKind::Port, "[21,2100,3535]"),
    ("SIP_PORTS", VarKind::Port, "[5060,5061,5600]"),
    ("FILE_DATA_PORTS", VarKind::Port, "[$HTTP_PORTS,110,143]"),
    ("GTP_PORTS", VarKind::Port, "[2123,2152,3386]"),
    ("DNP3_PORTS", VarKind::Port, "20000"),
    ("MODBUS_PORTS", VarKind::Port, "502"),
    ("SMTP_PORTS", VarKind::Port, "[25,465,587,691]"),
    ("POP3_PORTS", VarKind::Port, "110"),
    ("IMAP_PORTS", VarKind::Port, "143"),
    ("DNS_PORTS", VarKind::Port, "53"),
    ("TELNET_PORTS", VarKind::Port, "23"),
];

/// A flattened set: any positive `any`, positives, negatives.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Flat<T> {
    include_any: bool,
    include: Vec<T>,
    exclude: Vec<T>,
}

impl<T> Default for Flat<T> {
    fn default() -> Self {
        Flat {
            include_any: false,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

impl<T: Clone> Flat<T> {
    /// Append `other`, with its signs flipped when `negated` (Snort: `!` flips every member).
    fn extend(&mut self, other: &Flat<T>, negated: bool, what: &str) -> Result<(), String> {
        if negated {
            if other.include_any {
                return Err(format!(
                    "`!any` (or a negated list containing any) matches no {what}"
                ));
            }
            self.exclude.extend(other.include.iter().cloned());
            self.include.extend(other.exclude.iter().cloned());
        } else {
            self.include_any |= other.include_any;
            self.include.extend(other.include.iter().cloned());
            self.exclude.extend(other.exclude.iter().cloned());
        }
        Ok(())
    }

    fn leaf(value: T) -> Self {
        Flat {
            include_any: false,
            include: vec![value],
            exclude: Vec::new(),
        }
    }

    fn any() -> Self {
        Flat {
            include_any: true,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }

    /// The final sets, without spare capacity: every rule keeps its own port lists (ET Open:
    /// ~10,000); address lists are then interned by [`Vars::resolve_addr`].
    fn into_sets(mut self) -> (Vec<T>, Vec<T>) {
        let include = if self.include_any {
            Vec::new()
        } else {
            self.include.shrink_to_fit();
            self.include
        };
        self.exclude.shrink_to_fit();
        (include, self.exclude)
    }
}

impl Vars {
    /// An empty table (no defaults).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The table with Snort's standard variables defined.
    pub fn with_defaults() -> Self {
        let mut vars = Self::default();
        for (name, kind, value) in DEFAULTS {
            // The defaults are constants checked by a unit test; a failure here is a bug.
            if let Err(err) = vars.define(*kind, name, value) {
                panic!("built-in variable {name}: {err}");
            }
        }
        vars
    }

    /// Define (or redefine) a variable. The value is checked against the statement's grammar.
    pub fn define(&mut self, kind: VarKind, name: &str, value: &str) -> Result<(), String> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "bad variable name `{name}` (letters, digits and _ only)"
            ));
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("variable {name} has no value"));
        }
        let previous = self.defs.get(name);
        let addr = parse_addr_expr(value)
            .and_then(|e| e.substitute_self(name, previous.and_then(|d| d.addr.as_ref())));
        let port = parse_port_expr(value)
            .and_then(|e| e.substitute_self(name, previous.and_then(|d| d.port.as_ref())));
        let def = match kind {
            VarKind::Ip => VarDef {
                raw: value.to_string(),
                addr: Some(addr.map_err(|e| format!("ipvar {name}: {e}"))?),
                port: None,
            },
            VarKind::Port => VarDef {
                raw: value.to_string(),
                addr: None,
                port: Some(port.map_err(|e| format!("portvar {name}: {e}"))?),
            },
            VarKind::Any => VarDef {
                raw: value.to_string(),
                addr: addr.ok(),
                port: port.ok(),
            },
        };
        self.defs.insert(name.to_string(), def);
        self.addr_cache.clear();
        self.port_cache.clear();
        Ok(())
    }

    pub fn is_defined(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// The text a variable was defined with (for `include $RULE_PATH/...`).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.defs.get(name).map(|d| d.raw.as_str())
    }

    /// Resolve an address expression into a set.
    pub fn resolve_addr(&mut self, expr: &AddrExpr) -> Result<AddrSet, String> {
        let flat = self.flatten(expr, 0)?;
        let (include, exclude) = flat.into_sets();
        let mut shared = |list: Vec<IpNet>| -> Arc<[IpNet]> {
            match self.addr_lists.get(list.as_slice()) {
                Some(known) => Arc::clone(known),
                None => {
                    let list: Arc<[IpNet]> = list.into();
                    self.addr_lists.insert(Arc::clone(&list));
                    list
                }
            }
        };
        Ok(AddrSet {
            include: shared(include),
            exclude: shared(exclude),
        })
    }

    /// Resolve a port expression into a set.
    pub fn resolve_ports(&mut self, expr: &PortExpr) -> Result<PortSet, String> {
        let flat = self.flatten(expr, 0)?;
        let (include, exclude) = flat.into_sets();
        Ok(PortSet { include, exclude })
    }

    fn flatten<T: Member>(&mut self, expr: &SetExpr<T>, depth: usize) -> Result<Flat<T>, String> {
        match expr {
            SetExpr::Any => Ok(Flat::any()),
            SetExpr::Leaf(leaf) => Ok(Flat::leaf(leaf.clone())),
            SetExpr::List(items) => {
                let mut out = Flat::default();
                for item in items {
                    let flat = self.flatten(item, depth)?;
                    out.extend(&flat, false, T::WHAT)?;
                }
                Ok(out)
            }
            SetExpr::Not(inner) => {
                let flat = self.flatten(inner, depth)?;
                if let (SetExpr::Var(name), true) = (inner.as_ref(), flat.include_any) {
                    return Err(format!(
                        "`!${name}` matches no {} because ${name} is any; define {name} (--vars)",
                        T::WHAT
                    ));
                }
                let mut out = Flat::default();
                out.extend(&flat, true, T::WHAT)?;
                Ok(out)
            }
            SetExpr::Var(name) => {
                if let Some(flat) = T::cache(self).get(name) {
                    return Ok(flat.clone());
                }
                if depth >= MAX_VAR_NESTING {
                    return Err(format!("variable ${name} nests too deep (a cycle?)"));
                }
                let def = self
                    .defs
                    .get(name)
                    .ok_or_else(|| format!("undefined variable ${name}"))?;
                let inner = T::definition(def).cloned().ok_or_else(|| {
                    format!("variable ${name} is not {} variable", article(T::WHAT))
                })?;
                let flat = self.flatten(&inner, depth + 1)?;
                T::cache(self).insert(name.clone(), flat.clone());
                Ok(flat)
            }
        }
    }
}

fn article(what: &str) -> String {
    if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {what}")
    } else {
        format!("a {what}")
    }
}

fn var_name(i: &str) -> IResult<&str, String> {
    map(
        preceded(
            char('$'),
            take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_'),
        ),
        |s: &str| s.to_string(),
    )
    .parse(i)
}

fn ws<'a, O, P>(inner: P) -> impl Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>
where
    P: Parser<&'a str, Output = O, Error = nom::error::Error<&'a str>>,
{
    delimited(multispace0, inner, multispace0)
}

fn addr_net(i: &str) -> IResult<&str, IpNet> {
    let (rest, addr_text) =
        take_while1(|c: char| c.is_ascii_hexdigit() || c == '.' || c == ':').parse(i)?;
    let fail = || nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify));
    let addr: IpAddr = addr_text.parse().map_err(|_| fail())?;
    let (rest, prefix) = opt(preceded(
        char('/'),
        take_while1(|c: char| c.is_ascii_digit() || c == '.'),
    ))
    .parse(rest)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix_len = match prefix {
        None => max,
        Some(p) if p.contains('.') => {
            let mask: std::net::Ipv4Addr = p.parse().map_err(|_| fail())?;
            ipnet::ipv4_mask_to_prefix(mask).map_err(|_| fail())?
        }
        Some(p) => p.parse::<u8>().map_err(|_| fail())?,
    };
    let net = IpNet::new(addr, prefix_len).map_err(|_| fail())?;
    Ok((rest, net.trunc()))
}

/// The grammar shared by addresses and ports, over a parser for the leaves.
fn set_expr<'a, T>(
    i: &'a str,
    leaf: fn(&'a str) -> IResult<&'a str, T>,
) -> IResult<&'a str, SetExpr<T>> {
    alt((
        map(preceded(char('!'), |i| set_expr(i, leaf)), |e| {
            SetExpr::Not(Box::new(e))
        }),
        map(
            delimited(
                char('['),
                separated_list1(char(','), ws(|i| set_expr(i, leaf))),
                char(']'),
            ),
            SetExpr::List,
        ),
        map(var_name, SetExpr::Var),
        map(tag("any"), |_| SetExpr::Any),
        map(leaf, SetExpr::Leaf),
    ))
    .parse(i)
}

fn addr_expr(i: &str) -> IResult<&str, AddrExpr> {
    set_expr(i, addr_net)
}

fn port_number(i: &str) -> IResult<&str, u16> {
    let (rest, digits) = digit1(i)?;
    match digits.parse::<u16>() {
        Ok(n) => Ok((rest, n)),
        Err(_) => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

fn port_range(i: &str) -> IResult<&str, (u16, u16)> {
    let (rest, lo) = opt(port_number).parse(i)?;
    let (rest, colon) = opt(char(':')).parse(rest)?;
    let (rest, hi) = if colon.is_some() {
        opt(port_number).parse(rest)?
    } else {
        (rest, None)
    };
    let fail = || nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify));
    match (lo, colon, hi) {
        (Some(n), None, _) => Ok((rest, (n, n))),
        (None, Some(_), None) | (None, None, _) => Err(fail()),
        (lo, Some(_), hi) => {
            let (lo, hi) = (lo.unwrap_or(0), hi.unwrap_or(u16::MAX));
            if lo > hi {
                return Err(nom::Err::Failure(nom::error::Error::new(
                    i,
                    nom::error::ErrorKind::Verify,
                )));
            }
            Ok((rest, (lo, hi)))
        }
    }
}

fn port_expr(i: &str) -> IResult<&str, PortExpr> {
    set_expr(i, port_range)
}

/// A bare comma list `a,b` (Suricata's form) is read as `[a,b]`.
fn top_level<T>(mut items: Vec<T>, list: fn(Vec<T>) -> T) -> T {
    match (items.pop(), items.is_empty()) {
        (Some(only), true) => only,
        (Some(last), false) => {
            items.push(last);
            list(items)
        }
        (None, _) => list(items),
    }
}

/// Parse an address expression (whole string).
pub fn parse_addr_expr(text: &str) -> Result<AddrExpr, String> {
    all_consuming(map(separated_list1(char(','), ws(addr_expr)), |items| {
        top_level(items, SetExpr::List)
    }))
    .parse(text)
    .map(|(_, e)| e)
    .map_err(|_| {
        format!("bad address `{text}` (expected any, an IP, CIDR, $VAR, [list] or !negation)")
    })
}

/// Parse a port expression (whole string).
pub fn parse_port_expr(text: &str) -> Result<PortExpr, String> {
    all_consuming(map(separated_list1(char(','), ws(port_expr)), |items| top_level(items, SetExpr::List)))
        .parse(text).map(|(_, e)| e).map_err(|_| {
        format!("bad port `{text}` (expected any, N, a:b, :b, a:, $VAR, [list] or !negation; ports 0-65535, low <= high)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(vars: &mut Vars, text: &str) -> Result<AddrSet, String> {
        let expr = parse_addr_expr(text)?;
        vars.resolve_addr(&expr)
    }

    fn ports(vars: &mut Vars, text: &str) -> Result<PortSet, String> {
        let expr = parse_port_expr(text)?;
        vars.resolve_ports(&expr)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_all_resolve() {
        let mut vars = Vars::with_defaults();
        for (name, kind, _) in DEFAULTS {
            match kind {
                VarKind::Ip => assert!(addr(&mut vars, &format!("${name}")).is_ok(), "{name}"),
                _ => assert!(ports(&mut vars, &format!("${name}")).is_ok(), "{name}"),
            }
        }
    }

    #[test]
    fn shellcode_ports_default_is_not_80() {
        let mut vars = Vars::with_defaults();
        let set = ports(&mut vars, "$SHELLCODE_PORTS").unwrap();
        assert!(!set.contains(80));
        assert!(set.contains(81));
    }

    #[test]
    fn file_data_ports_include_http_ports_and_mail() {
        let mut vars = Vars::with_defaults();
        let set = ports(&mut vars, "$FILE_DATA_PORTS").unwrap();
        assert!(set.contains(8080) && set.contains(110) && set.contains(143));
        assert!(!set.contains(22));
    }

    #[test]
    fn redefining_home_net_changes_servers() {
        let mut vars = Vars::with_defaults();
        vars.define(VarKind::Ip, "HOME_NET", "10.0.0.0/8").unwrap();
        let set = addr(&mut vars, "$HTTP_SERVERS").unwrap();
        assert!(set.contains(ip("10.1.2.3")));
        assert!(!set.contains(ip("192.168.1.1")));
    }

    #[test]
    fn cidr_and_literals() {
        let mut vars = Vars::empty();
        let set = addr(&mut vars, "192.168.1.77/24").unwrap();
        assert!(set.contains(ip("192.168.1.1")));
        assert!(!set.contains(ip("192.168.2.1")));
        let set = addr(&mut vars, "2001:db8::/32").unwrap();
        assert!(set.contains(ip("2001:db8::1")));
        let set = addr(&mut vars, "10.0.0.1").unwrap();
        assert!(set.contains(ip("10.0.0.1")) && !set.contains(ip("10.0.0.2")));
        let set = addr(&mut vars, "10.0.0.0/255.255.0.0").unwrap();
        assert!(set.contains(ip("10.0.200.1")) && !set.contains(ip("10.1.0.1")));
    }

    #[test]
    fn bad_addresses_are_errors() {
        for bad in [
            "10.0.0.256",
            "10.0.0.0/33",
            "[1.1.1.1",
            "1.1.1.1]",
            "anyx",
            "",
            "$",
            "[]",
        ] {
            assert!(parse_addr_expr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn negation_of_nested_lists_flips_signs() {
        let mut vars = Vars::empty();
        let set = addr(&mut vars, "![10.0.0.0/8,![10.1.0.0/16]]").unwrap();
        assert_eq!(set.include[..], ["10.1.0.0/16".parse::<IpNet>().unwrap()]);
        assert_eq!(set.exclude[..], ["10.0.0.0/8".parse::<IpNet>().unwrap()]);
    }

    #[test]
    fn equal_address_lists_share_one_allocation() {
        let mut vars = Vars::with_defaults();
        vars.define(VarKind::Ip, "HOME_NET", "[10.0.0.0/8,192.168.0.0/16]")
            .unwrap();
        let home = addr(&mut vars, "$HOME_NET").unwrap();
        let listed = addr(&mut vars, "[192.168.0.0/16,10.0.0.0/8]").unwrap();
        let external = addr(&mut vars, "!$HOME_NET").unwrap();
        assert!(Arc::ptr_eq(
            &home.include,
            &addr(&mut vars, "$HTTP_SERVERS").unwrap().include
        ));
        assert!(Arc::ptr_eq(&home.include, &external.exclude));
        // Another order is another list (the sets are equal; the compiled book merges them).
        assert!(!Arc::ptr_eq(&home.include, &listed.include));
    }

    #[test]
    fn list_of_positives_and_negatives() {
        let mut vars = Vars::empty();
        let set = addr(&mut vars, "[10.0.0.0/8, !10.1.0.0/16]").unwrap();
        assert!(set.contains(ip("10.2.0.1")));
        assert!(!set.contains(ip("10.1.0.1")));
        assert!(!set.contains(ip("11.0.0.1")));
    }

    #[test]
    fn negated_any_is_an_error() {
        let mut vars = Vars::with_defaults();
        assert!(addr(&mut vars, "!any").unwrap_err().contains("!any"));
        assert!(addr(&mut vars, "![any,1.1.1.1]").is_err());
        assert!(addr(&mut vars, "!$HOME_NET").is_err());
        assert!(ports(&mut vars, "!any").is_err());
    }

    #[test]
    fn any_in_a_list_makes_include_any() {
        let mut vars = Vars::empty();
        let set = addr(&mut vars, "[any,!1.2.3.4]").unwrap();
        assert!(set.include.is_empty());
        assert!(set.contains(ip("5.5.5.5")) && !set.contains(ip("1.2.3.4")));
    }

    #[test]
    fn negated_variable() {
        let mut vars = Vars::empty();
        vars.define(VarKind::Ip, "HOME_NET", "[10.0.0.0/8,192.168.0.0/16]")
            .unwrap();
        let set = addr(&mut vars, "!$HOME_NET").unwrap();
        assert!(set.contains(ip("8.8.8.8")));
        assert!(!set.contains(ip("192.168.3.3")));
    }

    #[test]
    fn undefined_variable_is_an_error() {
        let mut vars = Vars::empty();
        assert_eq!(
            addr(&mut vars, "$NOPE").unwrap_err(),
            "undefined variable $NOPE"
        );
        assert_eq!(
            ports(&mut vars, "[80,$NOPE]").unwrap_err(),
            "undefined variable $NOPE"
        );
    }

    #[test]
    fn variable_kind_mismatch_is_an_error() {
        let mut vars = Vars::with_defaults();
        assert!(addr(&mut vars, "$HTTP_PORTS")
            .unwrap_err()
            .contains("not an address"));
        assert!(ports(&mut vars, "$HOME_NET")
            .unwrap_err()
            .contains("not a port"));
    }

    #[test]
    fn redefinition_may_extend_the_previous_value() {
        let mut vars = Vars::empty();
        vars.define(VarKind::Ip, "HOME_NET", "10.0.0.0/8").unwrap();
        vars.define(VarKind::Ip, "HOME_NET", "[$HOME_NET,192.168.0.0/16]")
            .unwrap();
        let set = addr(&mut vars, "$HOME_NET").unwrap();
        assert!(set.contains(ip("10.1.1.1")) && set.contains(ip("192.168.1.1")));
        assert!(vars
            .define(VarKind::Ip, "NEW", "[$NEW,1.1.1.1]")
            .unwrap_err()
            .contains("itself"));
    }

    #[test]
    fn variable_cycle_is_an_error() {
        let mut vars = Vars::empty();
        vars.define(VarKind::Ip, "A", "$B").unwrap();
        vars.define(VarKind::Ip, "B", "[$A,1.1.1.1]").unwrap();
        assert!(addr(&mut vars, "$A").unwrap_err().contains("too deep"));
    }

    #[test]
    fn port_forms() {
        let mut vars = Vars::empty();
        assert_eq!(ports(&mut vars, "80").unwrap().include, vec![(80, 80)]);
        assert_eq!(ports(&mut vars, "1:1024").unwrap().include, vec![(1, 1024)]);
        assert_eq!(ports(&mut vars, ":1024").unwrap().include, vec![(0, 1024)]);
        assert_eq!(
            ports(&mut vars, "1024:").unwrap().include,
            vec![(1024, 65535)]
        );
        assert!(ports(&mut vars, "any").unwrap().is_any());
        let set = ports(&mut vars, "[80, 8000:8100, !8080]").unwrap();
        assert!(set.contains(80) && set.contains(8001) && !set.contains(8080) && !set.contains(81));
        let set = ports(&mut vars, "![1:1023]").unwrap();
        assert!(!set.contains(22) && set.contains(1024));
    }

    #[test]
    fn bad_ports_are_errors() {
        for bad in ["65536", "100:10", ":", "[80", "80,", "x", "-1"] {
            assert!(parse_port_expr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bare_comma_lists_are_lists() {
        let mut vars = Vars::empty();
        let set = ports(&mut vars, "!5800,!445").unwrap();
        assert!(!set.contains(5800) && !set.contains(445) && set.contains(80));
        let set = addr(&mut vars, "1.1.1.1,2.2.2.2").unwrap();
        assert!(set.contains(ip("2.2.2.2")) && !set.contains(ip("3.3.3.3")));
    }

    #[test]
    fn var_accepts_addresses_ports_and_paths() {
        let mut vars = Vars::empty();
        vars.define(VarKind::Any, "RULE_PATH", "../rules").unwrap();
        assert_eq!(vars.raw("RULE_PATH"), Some("../rules"));
        vars.define(VarKind::Any, "MY_PORTS", "[80,81]").unwrap();
        assert!(ports(&mut vars, "$MY_PORTS").unwrap().contains(81));
        assert!(vars.define(VarKind::Ip, "BAD", "300.1.1.1").is_err());
        assert!(vars.define(VarKind::Port, "BAD", "70000").is_err());
        assert!(vars.define(VarKind::Ip, "bad-name", "any").is_err());
    }
}
