//! Emergency triage: a rules engine per business type, combined with a
//! classifier over the embedded sentence model ([`super::triage_model`]).
//! The rules stay the explainable, owner-editable core and carry the safety
//! advice (the hazard); the classifier overrules them only when its nearest
//! labelled examples agree confidently (see [`combine`]).
//!
//! Rules are phrases matched on whole words, with a small pattern syntax for
//! paraphrase (`smell~ * gas` matches "smells like gas"). A match is ignored
//! when a negation ("no leaks") precedes it in the same clause, or when a
//! context word of the rule ("smoke detector") is in the message. The
//! highest level wins; its phrases are the reasons. English and Spanish.
//! Context words are read across the whole message.
//!
//! Pattern syntax: words separated by spaces; `a|b` alternatives; a trailing
//! `~` matches any word starting with the stem (`flood~`: flooded, flooding);
//! `*` allows up to three words in between; `!a|b` means the next word is
//! neither (`fire !department`); `a & b & c` needs every part somewhere in
//! the message, unnegated: co-occurring signals catch paraphrases that no
//! fixed phrase lists ("the laundry room is under an inch of water").
//!
//! Over 600 lines because of the rule tables (about 260 lines of data, one
//! per business type); the matcher itself is small.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::phrases::{
    compile_words, denied_after, hypothetical_clauses, match_at, negated_match, normalise, occurs_unnegated,
    past_clauses, tokenize, Elem, Token,
};
use super::triage_model::{Classifier, ExampleSource, Nearest, Vote};
use crate::domain::{BusinessType, Priority};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    Gas,
    CarbonMonoxide,
    Fire,
    Flood,
    Electrical,
}

/// Which part of triage set the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    Rules,
    Classifier,
}

/// Why a message has its level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A rule matched: its name, as the owner's settings list it
    /// ("burst pipe", "water + pour + ceiling"). Also the reason the
    /// language model gives when it raises the level itself (its
    /// `set_emergency_level` tool): stored alike, as plain words, so a stored
    /// session could not tell the two apart anyway.
    Rule(String),
    /// The classifier decided: the text of the labelled example of that
    /// level nearest in meaning (its level, source and similarity are the
    /// decision's `nearest`; they are not kept with the reason).
    Like(String),
}

impl std::fmt::Display for Reason {
    /// What owners see on the lead, `frontdesk triage` prints and the
    /// session store keeps: the rule's name, or `like "<example>"`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Rule(name) => f.write_str(name),
            Reason::Like(text) => write!(f, "like \"{text}\""),
        }
    }
}

impl Reason {
    /// A reason from its stored string (what [`Display`](std::fmt::Display)
    /// wrote): sessions are stored with reasons as plain strings, as they
    /// were before reasons had a type.
    pub fn parse(stored: &str) -> Reason {
        match stored.strip_prefix("like \"").and_then(|rest| rest.strip_suffix('"')) {
            Some(text) => Reason::Like(text.to_string()),
            None => Reason::Rule(stored.to_string()),
        }
    }
}

/// As a string, the format stored sessions and the JSON have always had.
impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Reason::parse(&s))
    }
}

/// A decision's reasons as they may be logged: the rules' names stand, a
/// classifier's nearest example does not (it may be a message an owner
/// marked, a past customer's own words); the owner still sees it on the lead.
pub fn reasons_for_log(reasons: &[Reason]) -> Vec<&str> {
    reasons
        .iter()
        .map(|r| match r {
            Reason::Rule(name) => name.as_str(),
            Reason::Like(_) => "like a labelled example",
        })
        .collect()
}

/// Reasons as one line, comma separated: the lead's `emergency_reasons`,
/// the voice agent's instructions.
pub fn joined(reasons: &[Reason]) -> String {
    reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The level and the phrases (or the similar example) that decided it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub level: Priority,
    pub reasons: Vec<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hazard: Option<Hazard>,
    pub decided_by: DecidedBy,
    /// The labelled message nearest in meaning, when the classifier ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nearest: Option<Nearest>,
}

/// An owner's changes to the default rules: extra phrases (same pattern
/// syntax) per level, and default phrases (as [`Rules::phrases`] lists them)
/// to drop.
pub use crate::domain::EmergencyRules as Overrides;

use Hazard::{CarbonMonoxide as Co, Electrical, Fire, Flood, Gas};
use Priority::{High, Normal, Urgent};

/// (level, pattern, hazard, context): context phrases cancel the rule when
/// found in the message; a context list starting with `+` is required instead.
type RuleRow = (Priority, &'static str, Option<Hazard>, &'static str);

/// Dangers any business should escalate: safety first.
const SAFETY: &[RuleRow] = &[
    (Urgent, "gas leak~", Some(Gas), "bill|station|price|prices|mileage"),
    (Urgent, "smell~|smel~|smelling * gas", Some(Gas), "bill|station"),
    (Urgent, "gas smell~|odor~|odour~", Some(Gas), ""),
    (Urgent, "leak~ * gas|propane", Some(Gas), ""),
    (Urgent, "rotten egg~", Some(Gas), ""),
    (Urgent, "hiss~ * gas", Some(Gas), ""),
    (Urgent, "gas|propane & hiss~|smell~|odor~|leak~|whiff", Some(Gas), "bill|station|price|prices|mileage|stove install~|line install~|quote"),
    (Urgent, "carbon monoxide", Some(Co), "install|installation|quote|price|new|battery"),
    (Urgent, "co alarm|detector", Some(Co), "install|installation|battery|quote|new|test"),
    (Urgent, "fire !department|inspection|inspector|inspected|extinguisher|extinguishers|drill|insurance|marshal|pit|code|rated|place|wood|sprinkler|sprinklers|alarm|alarms|safety|exit|escape|door|doors|hydrant", Some(Fire), "dumpster fire"),
    (Urgent, "on|caught fire", Some(Fire), ""),
    (Urgent, "electrical fire", Some(Fire), ""),
    (Urgent, "smoke|smoking !detector|detectors|alarm|alarms|free|test|tests|testing", Some(Fire), "battery|batteries|chirp~"),
    (Urgent, "smoke * coming|pouring|filling|everywhere", Some(Fire), ""),
    (Urgent, "burn~ * smell~", Some(Fire), "calories"),
    (Urgent, "smell~ * burn~", Some(Fire), ""),
    // Wiring or plastic heating up, and someone shocked by a live part.
    (Urgent, "electrical|electric|melting|melted|plastic smell~|odor~|odour~", Some(Fire), ""),
    (Urgent, "smell~ * electrical|melting|plastic", Some(Fire), ""),
    (Urgent, "got|been|was|were|just * shocked|electrocuted & outlet|plug|wire|wires|dryer|panel|breaker|socket|switch|cord|appliance|enchufe|cable", Some(Electrical), "years ago|last year"),
    (Urgent, "spark~", Some(Electrical), "plug|plugs|sparkling|sparkle"),
    (Urgent, "flames", Some(Fire), ""),
    (Urgent, "explod~|explosion|blew up", None, ""),
    (High, "smoke alarm|alarms|detector|detectors * going|sounding|beeping", None, "battery|chirp~"),
    // A power line down (or sagging, humming) is live until the utility says not.
    (Urgent, "power|electric|electrical|utility line|lines & down|fell|fallen|sagging|snapped|lying|dangling|humming|buzzing", Some(Electrical), ""),
    (Urgent, "cable|cables|linea|lineas|poste * luz|electric~|alta & cayo|caido|caida|caidos|suelto|suelta|colgando|suelo|piso", Some(Electrical), ""),
    // Indirect emergencies: symptoms of carbon monoxide beside a fuel-burning
    // appliance, a person trapped or pinned, violence threatened or tried now.
    (Urgent, "headache~|dizzy|nause~|mareado|mareada|mareos & furnace|boiler|heater|stove|generator|fireplace|gas|estufa|calentador|caldera", Some(Co), "years ago|last year|hace * anos"),
    (Urgent, "duele~|dolor * cabeza & furnace|boiler|heater|stove|generator|gas|estufa|calentador|caldera", Some(Co), "hace * anos"),
    (Urgent, "stuck|trapped|atrapad~|encerrad~ * elevator|elevador|ascensor", None, "years ago|last year|hace * anos"),
    (Urgent, "pinned|crushed|atrapad~|aplastad~ * under|underneath|beneath|debajo", None, "years ago|last year|hace * anos"),
    (Urgent, "threaten~|attack~|assault~|swinging|waving|pointed|pointing|amenaz~|atac~ & bat|knife|gun|weapon|machete|cuchillo|pistola|arma|bate", None, "years ago|last year|hace * anos|movie|game"),
    (Urgent, "tried|trying|tryin|try to * break|kick|force|pry in|into|open|down", None, "years ago|last year|month~ ago"),
    (Urgent, "locked|trapped in|inside * bathroom|room|bedroom|closet|basement|attic|garage|freezer", None, "years ago|last year"),
    // Someone shut in (a walk-in, a room) who cannot get out.
    (Urgent, "is|are|got|been|gets stuck|trapped|locked inside", None, "key|keys|llave|llaves|years ago|last year"),
    (Urgent, "encerrad~|atrapad~ * bano|cuarto|recamara|habitacion|closet|sotano|atico|garaje|congelador", None, "hace * anos"),
    (Urgent, "oven|stove|burner|burners|cooktop & wont|cant|doesnt * shut|turn * off", Some(Fire), ""),
    (Urgent, "huele~ a gas", Some(Gas), ""),
    (Urgent, "olor a gas", Some(Gas), ""),
    (Urgent, "fuga de gas", Some(Gas), ""),
    (Urgent, "monoxido de carbono", Some(Co), ""),
    (Urgent, "incendio|fuego", Some(Fire), "extintor|extintores|simulacro"),
    (Urgent, "humo", Some(Fire), "detector|alarma"),
    (Urgent, "chispa~", Some(Electrical), ""),
];

/// Water in the wrong place, for anyone who deals with buildings.
const WATER: &[RuleRow] = &[
    (Urgent, "flood~", Some(Flood), "insurance|zone|plain|light|lights|lamp|lamps|certificate|map"),
    (Urgent, "burst * pipe~|main", Some(Flood), ""),
    (Urgent, "pipe~ * burst~|bursting|exploded|broke", Some(Flood), ""),
    (Urgent, "water everywhere", Some(Flood), ""),
    (
        Urgent,
        "water * all|coming|dripping|leaking * over|floor|floors|basement|through|in|down|ceiling",
        Some(Flood),
        "",
    ),
    (Urgent, "water * pouring|gushing|spraying|flowing|streaming", Some(Flood), ""),
    // Water running into the building itself (a shaft, a room, the panel),
    // not into a bowl or a tank.
    (
        Urgent,
        "water * running|leaking|coming|going * into|onto|down * shaft|elevator|basement|floor|floors|ceiling|wall|walls|room|hallway|stairs|stairwell|garage|panel|unit|units",
        Some(Flood),
        "",
    ),
    (Urgent, "pouring * water", Some(Flood), ""),
    (Urgent, "through|thru|threw * ceiling", Some(Flood), "stain~|crack~|wire|wires|cable|cables|install~|quote|estimate"),
    (Urgent, "water & pour~|gush~|spray~|rush~|pool~|flowing|streaming|coming|standing|under|leaking|dripping & ceiling|floor|floors|basement|fixture|light|inch|inches|everywhere|carpet|wall|walls|room|hallway|upstairs|downstairs", Some(Flood), "heater|softener|bill|pressure|quote|estimate|wont drain|doesnt drain|not draining|isnt draining|no drena"),
    // Water standing in a washer's drum, a tub or a shower that won't drain
    // is a drain problem, not a flood.
    (Urgent, "inch|inches|feet|foot * water", Some(Flood), "heater|bill|quote|drum|washer|washing|tub|bathtub|sink|dishwasher|lavadora|shower|showers|ducha|regadera|wont drain|doesnt drain|not draining|isnt draining|no drena"),
    (Urgent, "sewage|sewer * backing|backed|coming|overflow~", None, ""),
    (Urgent, "inund~", Some(Flood), "seguro"),
    (Urgent, "tuberia|tubo|cano * rota|roto|reventad~|revento", Some(Flood), ""),
    (Urgent, "agua por todas partes", Some(Flood), ""),
    // Spanish says the pipe broke before naming it ("se rompió un tubo") and
    // the water by how it comes out ("a chorros", "mucha agua").
    (Urgent, "rompio|revento * tubo|tuberia|cano|manguera", Some(Flood), "hace * anos|ano pasado|mes pasado|semana pasada|arregl~|repar~"),
    (Urgent, "agua a chorro~", Some(Flood), ""),
    (Urgent, "chorro~ de agua", Some(Flood), ""),
    (Urgent, "sale|saliendo|salir * mucha agua", Some(Flood), ""),
    (Urgent, "llenando|llenado de agua", Some(Flood), ""),
    (Urgent, "agua * por toda|todo|todas", Some(Flood), "hace * anos|ano pasado"),
];

/// Something broken, in Spanish as the English rules say it ("won't drain",
/// "stopped working", "low pressure"), for every business with equipment.
const SPANISH_BROKEN: &[RuleRow] = &[
    (
        High,
        "no * drena|desagua|baja|sube|cierra|prende~|enciende~|arranca~|funciona~|sirve~|jala|descarga|traba|enfria|enfrian|calienta|calientan|sopla|abre",
        None,
        "",
    ),
    (
        High,
        "se * tapo|atoro|atasco|trabo|rompio|descompuso|quemo",
        None,
        "hace * anos|hace * meses|pasado|arreglad~|ya funciona|ahora funciona",
    ),
    (High, "dejo|dejaron de funcionar|servir|enfriar|calentar|prender|andar|jalar", None, ""),
    (High, "poca presion", None, ""),
    (High, "presion * bajo|baja|nada", None, ""),
    (High, "no * podemos|puedo|puede * usar", None, ""),
];

const PLUMBING: &[RuleRow] = &[
    (Urgent, "no water", None, "pressure|bill|damage|stain~|spot|spots|puddle~|wet"),
    (High, "pressure * gone|dropped|drop|low|trickle", None, "quote|estimate|test|regulator install~"),
    (High, "low|poor|weak * pressure", None, "quote|estimate|test|regulator install~"),
    (High, "trickle", None, ""),
    (High, "leak~", None, ""),
    // A faucet dripping into its own basin, or a little, is routine.
    (High, "drip~", None, "drip~ * into * sink|drip~ * into * basin|drip~ * into * tub|drip~ * into * bowl|faucet * drip~ a little|faucet * drip~ a bit|tap * drip~ a little|tap * drip~ a bit|wee drip"),
    (High, "clog~|blocked", None, ""),
    // A hidden leak: a hiss in a wall, a bill that jumped.
    (High, "hiss~ & wall|walls|pipe|pipes|meter|slab|floor|crawlspace", None, "gas|propane"),
    (High, "bill & jumped|doubled|tripled|spiked|skyrocket~", None, ""),
    (High, "backed|stopped up", None, ""),
    (High, "overflow~", None, ""),
    (High, "no hot water", None, ""),
    (High, "not|stopped working", None, ""),
    (High, "broken|damaged|malfunction~", None, ""),
    (High, "strange|weird|bad|sewer smell~", None, ""),
    (
        High,
        "unusual|strange|loud|popping|banging|rumbling|grinding|screeching|hissing * noise~|sound~",
        None,
        "",
    ),
    (High, "wont|cant|doesnt * stop|flush|drain|turn|start", None, ""),
    (High, "pump|heater|toilet|sink|drain|faucet|disposal|softener|valve|pipe|pipes|shower|tub|tap & stopped|broke~|stuck|slow|wont|isnt|doesnt|quit|died", None, ""),
    (High, "water heater * leak~|not|broke~", None, ""),
    (High, "fuga~|tapad~|atascad~", None, ""),
    (High, "gotea~", None, "llave * gotea~ * poco|llave * gotea~ * poquito|grifo * gotea~ * poco|grifo * gotea~ * poquito|canilla * gotea~ * poquito|gotea~ * en * lavabo|gotea~ * en * lavamanos|gotea~ * en * pileta|gotea~ * en * fregadero|gotea~ * dentro * lavabo|gotea~ * dentro * lavamanos"),
    (High, "sin agua caliente", None, ""),
    (High, "no * agua caliente", None, ""),
];

const HVAC: &[RuleRow] = &[
    // "No heat problem" says the heat is fine.
    (Urgent, "no heat|heating !problem|problems|issue|issues|trouble|complaint~", None, "pump|pumps"),
    (Urgent, "furnace|boiler|heat|heating * out|died|dead|stopped|quit", None, ""),
    (Urgent, "furnace|boiler|heater|heat|heating * wont|not|doesnt|isnt|stopped * on|working|work|start|running|turn", None, "+cold|freezing|frozen|degrees|baby|newborn|elderly|winter|snow"),
    // Heat off, with the cold or someone frail named.
    (Urgent, "furnace|boiler|heater|heat|heating * off", None, "+cold|freezing|frozen|degrees|baby|newborn|infant|elderly|winter|snow|year old|years old|yr old|aunt|grandma|grandmother|grandfather|grandpa|abuela|abuelo|bebe"),
    (Urgent, "freezing|frozen * house|home|inside|pipes|apartment", None, ""),
    (Urgent, "sin calefaccion", None, ""),
    (High, "no * ac|air|cooling|aircon", None, ""),
    (High, "ac|air|conditioner * stopped|quit|died|broke~", None, ""),
    (High, "not cooling|heating|blowing", None, ""),
    (High, "blowing warm|hot", None, ""),
    (High, "not|stopped working", None, ""),
    (High, "broken|damaged|malfunction~", None, ""),
    (High, "leak~|drip~", None, ""),
    (High, "unusual|strange|loud|banging|grinding|screeching|squealing|rattling|clanking * noise~|sound~", None, ""),
    // Equipment that shuts itself off is a repair for today.
    (High, "furnace|heater|heat|heating|boiler|ac|unit|system|compressor & quits|shuts|shutting|cuts|cutting|cycles|cycling", None, "quote|estimate|install~|new"),
    (High, "calefaccion|calentador|caldera|aire|minisplit|equipo|unidad & apaga|apagando|corta|cortando", None, ""),
    (High, "strange|weird|bad smell~", None, ""),
    (High, "no funciona", None, ""),
    (High, "ac|air|conditioner|cooling|heater|furnace|heat|thermostat|compressor|cooler|condenser & stopped|broke~|quit|died|cant|wont|isnt|doesnt|keeping|stuck", None, "quote|estimate|install~|new"),
    (High, "not|wont|isnt|doesnt|never kick~ on|in", None, ""),
    (High, "frozen|ice|iced & unit|coil|coils|pump|ac|condenser", None, ""),
    (High, "se descompuso", None, "hace * anos|hace * meses|pasado|arreglad~|ya funciona|ahora funciona"),
];

const LAW: &[RuleRow] = &[
    (Urgent, "arrest~", None, "expung~|record|records|years ago|yyyy|warrantless"),
    (Urgent, "detained", None, "years ago|record"),
    (Urgent, "in|into custody", None, "years ago|record|child|children|kids|custody battle"),
    (Urgent, "jail", None, "years ago|record"),
    (Urgent, "locked up", None, "years ago"),
    (Urgent, "behind bars", None, "years ago"),
    (Urgent, "police|cops * took|taken|picked|got|arrested", None, "years ago|report"),
    (Urgent, "picked|taken * by * police|cops", None, "years ago"),
    (Urgent, "police|cops|policia|sheriff|officers & took|taken|picked|arrest~|booked|holding|held|detain~|custody|station|llevo|llevaron", None, "years ago|report|reports|record|yyyy|complaint"),
    (Urgent, "being booked", None, ""),
    (Urgent, "held * jail|custody|police", None, "years ago"),
    // A date next week or later is a deadline (HIGH), not an emergency.
    (Urgent, "bail", None, "years ago|bonds|bondsman|next week|next month|next monday|next tuesday|next wednesday|next thursday|next friday"),
    (Urgent, "bond hearing", None, "next week|next month|next monday|next tuesday|next wednesday|next thursday|next friday"),
    (Urgent, "arraignment", None, "years ago|next week|next month|next monday|next tuesday|next wednesday|next thursday|next friday"),
    (Urgent, "hearing|court|trial * tomorrow|today|tonight", None, ""),
    (Urgent, "ice * detained|took|picked|raid~", None, ""),
    (Urgent, "deport~", None, "consultation|question|questions|years ago"),
    (Urgent, "warrant * for", None, "years ago"),
    (Urgent, "arrestad~|arrestaron|detenid~|carcel|fianza", None, "hace * anos|record|records|borrar|antecedentes|expediente|yyyy"),
    (Urgent, "audiencia|corte * manana|hoy", None, ""),
    (High, "served * papers|summons|subpoena|lawsuit", None, ""),
    (High, "summons|subpoena", None, ""),
    (High, "deadline * today|tomorrow|friday|monday", None, ""),
    // A deadline days away, a levy or a suit to answer: time-sensitive, not
    // an emergency (counted in days, or spelled as a caller says it).
    (High, "deadline|plazo * nnn|days|dias|weeks|semanas", None, ""),
    (High, "nnn day|days deadline", None, ""),
    (High, "respond|answer|responder|contestar * in|within|en * days|dias|nnn|ten|thirty|twenty|diez|veinte|treinta|quince", None, ""),
    (High, "levy|garnish~|embargar|embargo", None, "years ago|hace * anos"),
    (High, "demand letter", None, ""),
    (High, "deposition|declaracion jurada", None, "years ago"),
    (High, "me|nos demandaron|demando|demandan", None, "hace * anos"),
    (High, "desahucio|desalojo", None, ""),
    (High, "restraining|protective order", None, ""),
    (High, "eviction notice", None, ""),
    (High, "evict~", None, ""),
    (High, "court date", None, ""),
    (High, "accident|injured|injury|hurt", None, "years ago|last year"),
    (High, "fired|terminated & today|yesterday|illegal~|wrongful~|retaliat~", None, ""),
    (High, "dui|dwi|ticket|citation & court|hearing", None, ""),
    // A hearing, an interview or a summons on a named day or this week:
    // time-sensitive, not an emergency (today or tomorrow is URGENT above).
    (High, "hearing|court|trial|interview|arraignment|deposition|mediation|audiencia|juicio|entrevista|citacion & monday|tuesday|wednesday|thursday|friday|saturday|sunday|lunes|martes|miercoles|jueves|viernes|sabado|domingo|nnnth", None, ""),
    (High, "hearing|court|trial|interview|arraignment|deposition|mediation|audiencia|juicio|entrevista|citacion & next|this|coming week", None, ""),
    (High, "citacion|citatorio|emplazamiento", None, ""),
    (High, "notice to quit|vacate|leave", None, ""),
    (High, "notice & nnn|three|five|seven|ten|fourteen|thirty days|dias", None, ""),
    (High, "suspend~|revoke~|pull~ * license|licence|permit|licencia", None, ""),
    // Something done to the caller now, against their will: a child taken
    // away, wages withheld.
    (High, "without my|our consent|permission|approval", None, ""),
    (High, "sin mi|nuestro permiso|consentimiento", None, ""),
    (High, "no me|nos paga|pagan", None, ""),
    (High, "no me|nos ha|han pagado", None, ""),
    (High, "hasnt|havent|hasn't|haven't * paid me|us", None, ""),
];

/// A date that runs out, or hours to go: time-sensitive (an offer, a rate
/// lock, a contingency, a showing), for the businesses that keep dates.
const DATED: &[RuleRow] = &[
    (High, "expires|expire|expiring|lapses|vence|vencen|venza", None, "months|years|meses|anos"),
    // Hours to go; minutes are the head's to judge (a court about to sit,
    // funds about to leave are emergencies).
    (High, "in|en * hours|horas", None, ""),
    // Money about to leave, or a court about to sit, within the hour.
    (Urgent, "court|hearing|trial|arraignment|appearance|case|juzgado|audiencia|fiscalia|declarar & in|en an|one|two|three|nnn|media|una|dos|tres * hour|hours|minutes|mins|hora|horas|minutos", None, ""),
    (High, "by|before * end of * week|month|day", None, ""),
    (High, "auction~|subasta~ & monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|lunes|martes|miercoles|jueves|viernes|sabado|domingo|manana", None, ""),
];

/// Money sent to a thief in a real-estate deal: minutes count (the bank can
/// still recall a wire). Asking how to avoid it is routine.
const WIRE_FRAUD: &[RuleRow] = &[
    (Urgent, "hacked|hacker~|scam~|scammer~|fraud~|fake|dodgy|phish~ & wire|wired|wiring|deposit|earnest|funds|money|payoff|transfer~|sent|send|sending", None, "avoid|protect|prevent|tips|almost|nearly|caught"),
    (Urgent, "wire|wiring|payoff|funds|account|transferencia|cuenta & changed|changing|change|new|updated|redirect~|different|spoof~|cambiaron|cambio|otra & email|emailed|emailing|text|texted|correo|mensaje", None, "avoid|protect|prevent|tips|almost|nearly|caught"),
    (Urgent, "estafa~|hackea~|fraude~|falso|falsa & transferencia|deposito|dinero|enganche|fondos|mandamos|enviamos", None, "evitar|proteger"),
];

/// Someone broke in, or the building stands open: for anyone with a door.
const BREAK_IN: &[RuleRow] = &[
    (Urgent, "break in", None, ""),
    (Urgent, "broken|broke into", None, ""),
    (Urgent, "broke in", None, "key|keys|ignition"),
    (Urgent, "burglar~", None, ""),
    (Urgent, "smashed|kicked|forced|pried|busted * door|window|glass|lock|in|open", None, ""),
    (Urgent, "forzaron|rompieron|quebraron * puerta|ventana|cerradura|vidrio", None, ""),
    (Urgent, "metieron|entraron a robar", None, ""),
];

const REAL_ESTATE: &[RuleRow] = &[
    (Urgent, "no heat !problem|problems|issue|issues|trouble|complaint~", None, ""),
    (High, "closing * tomorrow|today|monday|tuesday|wednesday|thursday|friday|saturday|sunday", None, ""),
    (High, "close|closing & tomorrow|today|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday", None, ""),
    // A lease, a move or a signing on a named day this week.
    (High, "lease * ends|expires|up & today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday", None, ""),
    (High, "move|moving in * today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday", None, ""),
    (High, "firmar|firma|firmamos|cierre|escritura|boleto|mudanza|mudamos * hoy|manana|lunes|martes|miercoles|jueves|viernes|sabado|domingo", None, ""),
    (High, "offer * deadline|expires|expiring|due", None, ""),
    (High, "deadline * today|tomorrow", None, ""),
    (High, "leak~|broken|damaged", None, ""),
    (High, "not working", None, ""),
    (High, "no hot water", None, ""),
    (High, "sin|no * agua caliente", None, ""),
];

/// Locked out is a job for today; with a child or a frail person inside or
/// out in the cold, or something left on, it is an emergency.
const LOCKED_OUT: &[RuleRow] = &[
    (Urgent, "locked * out", None, "+baby|babies|toddler|infant|newborn|crib|elderly|asleep|stove|oven|snow|freezing|year old|years old|yr old"),
    (Urgent, "quede|quedamos|quedo * afuera|fuera", None, "+bebe|bebes|solito|solita|dormid~|estufa|horno|nieve|helando|anos"),
    (High, "locked * out", None, "last week|last month|last year|ago|rekey~"),
    (High, "quede|quedamos|quedo * afuera|fuera", None, "semana pasada|mes pasado|hace"),
    // The keys left inside: locked out however it is said.
    (Urgent, "keys|key|llaves|llave * inside|adentro|dentro", None, "+baby|babies|toddler|infant|newborn|asleep|stove|oven|snow|freezing|year old|years old|yr old|bebe|bebes|nino|nina|solito|solita|dormid~|estufa|horno|nieve|anos|calor|hot"),
    (High, "keys|key|llaves|llave * inside|adentro|dentro", None, "last week|last month|ago|semana pasada|mes pasado"),
];

const OTHER: &[RuleRow] = &[
    (Urgent, "injur~|bleeding|unconscious|collapsed", None, "years ago|last year|claim"),
    (High, "wont|cant|doesnt|isnt|wouldnt * drain|lock|close|open|start|latch|shut", None, ""),
    (High, "breaker|breakers|gfci * trip~|keeps|blown", None, ""),
    (High, "lock|door|gate|opener * jammed|stuck|wont", None, ""),
    (
        High,
        "urgent|asap|emergency",
        None,
        "do you|offer~|available|availability|charge|cost|price|rate|fee|plan",
    ),
    (High, "not|stopped working", None, ""),
    (High, "broken|damaged|leak~", None, ""),
    // Equipment a business runs on that died.
    (High, "fridge|freezer|refrigerator|cooler|machine|oven|stove|washer|dryer|dishwasher|opener|generator|compressor|pump|elevator|nevera|refrigerador|congelador|heladera|maquina|horno & died|dead|quit|conked|kaput|murio|muerta|muerto", None, ""),
    (High, "atascad~|trabad~|atorad~", None, ""),
];

/// Routine requests: recognised (so reasons say why) but never escalated.
const ROUTINE: &[RuleRow] = &[
    (Normal, "maintenance|tune", None, ""),
    (Normal, "quote|estimate|price|pricing|cost", None, ""),
    (Normal, "schedule|appointment|book|booking|consultation|showing", None, ""),
    (Normal, "inspection|install~|installation|service|repair", None, ""),
    (Normal, "presupuesto|cotizacion|cita", None, ""),
];

#[derive(Debug, Clone)]
struct Rule {
    level: Priority,
    label: String,
    elems: Vec<Elem>,
    hazard: Option<Hazard>,
    /// Phrases that cancel the rule anywhere in the message.
    context: Vec<Vec<Elem>>,
    /// Phrases of which one must be in the message (a `+` context list).
    requires: Vec<Vec<Elem>>,
    /// Further parts that must all occur, unnegated (`water & pouring & ceiling`).
    also: Vec<Vec<Elem>>,
}

/// Compiled rules for one business, with its classifier.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Default rules the owner removed: a message they match is left to the
    /// remaining rules, so the classifier cannot raise it on the sign the
    /// owner said does not count for them.
    removed: Vec<Rule>,
    classifier: Arc<Classifier>,
}

/// A readable reason for a pattern: its first alternatives, syntax removed.
fn label(pattern: &str) -> String {
    pattern
        .split_whitespace()
        .filter(|w| *w != "*" && !w.starts_with('!'))
        .map(|w| w.split('|').next().unwrap_or(w).trim_end_matches('~'))
        .collect::<Vec<_>>()
        .join(" ")
}

fn compile(row: &RuleRow) -> Rule {
    let (level, pattern, hazard, context) = *row;
    compile_pattern(level, pattern, hazard, context)
}

fn compile_pattern(level: Priority, pattern: &str, hazard: Option<Hazard>, context: &str) -> Rule {
    // Multi-word context entries ("years ago") are phrases of their own.
    let (required, list) = match context.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, context),
    };
    let phrases: Vec<Vec<Elem>> =
        list.split('|').filter(|c| !c.trim().is_empty()).map(compile_words).collect();
    let (context, requires) = if required { (Vec::new(), phrases) } else { (phrases, Vec::new()) };
    let mut parts = pattern.split(" & ");
    let elems = compile_words(parts.next().unwrap_or_default());
    let also = parts.map(compile_words).collect();
    let label = pattern.split(" & ").map(label).collect::<Vec<_>>().join(" + ");
    Rule { level, label, elems, hazard, context, requires, also }
}

impl Rules {
    /// The default rules for a type of business (English and Spanish), with
    /// the built-in classifier.
    pub fn for_business(business_type: BusinessType) -> Rules {
        let mut rules = Rules::rules_only(business_type);
        rules.classifier = Arc::new(Classifier::for_business(business_type, &[]));
        rules
    }

    /// The default rules with no classifier (what trains the classifier).
    pub fn rules_only(business_type: BusinessType) -> Rules {
        let specific: &[&[RuleRow]] = match business_type {
            BusinessType::Plumbing => &[WATER, PLUMBING, SPANISH_BROKEN],
            BusinessType::Hvac => &[WATER, HVAC, SPANISH_BROKEN],
            BusinessType::Law => &[LAW, DATED, WIRE_FRAUD],
            BusinessType::RealEstate => {
                &[WATER, REAL_ESTATE, LOCKED_OUT, SPANISH_BROKEN, DATED, WIRE_FRAUD, BREAK_IN]
            }
            BusinessType::Other => &[WATER, OTHER, LOCKED_OUT, SPANISH_BROKEN, DATED, BREAK_IN],
        };
        let rules = [SAFETY]
            .iter()
            .chain(specific)
            .chain([ROUTINE].iter())
            .flat_map(|rows| rows.iter().map(compile))
            .collect();
        Rules { rules, removed: Vec::new(), classifier: Arc::new(Classifier::default()) }
    }

    /// Compiled rules for a business, shared while its overrides are unchanged:
    /// a turn costs a lookup, and an owner's edit takes effect on the next turn.
    pub fn cached(business_type: BusinessType, overrides: &Overrides) -> Arc<Rules> {
        Rules::cached_with_marks(business_type, overrides, &[])
    }

    /// [`Rules::cached`], the owner's marks on leads among the classifier's examples.
    pub fn cached_with_marks(
        business_type: BusinessType,
        overrides: &Overrides,
        marks: &[(Priority, String)],
    ) -> Arc<Rules> {
        type Key = (BusinessType, Overrides, Vec<(Priority, String)>);
        static CACHE: OnceLock<moka::sync::Cache<Key, Arc<Rules>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| moka::sync::Cache::new(10_000));
        cache.get_with((business_type, overrides.clone(), marks.to_vec()), || {
            Arc::new(Rules::with_marks(business_type, overrides, marks))
        })
    }

    /// The rules with the owner's changes, the classifier with the owner's marks.
    pub fn with_marks(
        business_type: BusinessType,
        overrides: &Overrides,
        marks: &[(Priority, String)],
    ) -> Rules {
        let mut rules = Rules::with_overrides(business_type, overrides);
        if !marks.is_empty() {
            rules.classifier = Arc::new(Classifier::for_business(business_type, marks));
        }
        rules
    }

    /// The defaults with the owner's additions and removals.
    pub fn with_overrides(business_type: BusinessType, overrides: &Overrides) -> Rules {
        let mut rules = Rules::for_business(business_type);
        let removed: BTreeSet<String> = overrides.remove.iter().map(|p| label(&normalise(p))).collect();
        let (gone, kept): (Vec<Rule>, Vec<Rule>) =
            std::mem::take(&mut rules.rules).into_iter().partition(|r| removed.contains(&r.label));
        rules.rules = kept;
        rules.removed = gone;
        for (level, phrase) in &overrides.add {
            if !phrase.trim().is_empty() {
                rules.rules.push(compile_pattern(*level, phrase, None, ""));
            }
        }
        rules
    }

    /// The effective phrases per level, for the owner's settings page.
    pub fn phrases(&self) -> Vec<(Priority, String)> {
        let mut seen = BTreeSet::new();
        self.rules
            .iter()
            .filter(|r| seen.insert((r.level, r.label.clone())))
            .map(|r| (r.level, r.label.clone()))
            .collect()
    }

    /// The rules and the classifier together: what the engine acts on.
    pub fn classify(&self, text: &str) -> Decision {
        self.classify_with(text, &self.classifier)
    }

    /// [`Rules::classify`] with another classifier (the leave-one-out evaluation).
    pub fn classify_with(&self, text: &str, classifier: &Classifier) -> Decision {
        if !self.removed.is_empty() {
            let tokens = tokenize(text);
            let not_now = not_now(&tokens);
            if self.removed.iter().any(|rule| rule_hits(rule, &tokens, &not_now)) {
                return self.classify_rules(text);
            }
        }
        combine_opt(self.classify_rules(text), classifier, text)
    }

    /// How the message sorts for triage: its level, then the classifier's
    /// probability that it is URGENT.
    pub fn urgency(&self, text: &str) -> (Priority, f32) {
        // One vote serves both the probability and the combined level.
        let rules = self.classify_rules(text);
        match self.classifier.vote(&without_contact_details(text), rules.level) {
            Some(vote) => {
                let p = vote.urgent;
                (combine(rules, vote).level, p)
            }
            None => (rules.level, 0.0),
        }
    }

    /// The rules alone.
    pub fn classify_rules(&self, text: &str) -> Decision {
        let tokens = tokenize(text);
        let not_now = not_now(&tokens);
        let mut best = Decision {
            level: Normal,
            reasons: Vec::new(),
            hazard: None,
            decided_by: DecidedBy::Rules,
            nearest: None,
        };
        for rule in &self.rules {
            if !rule_hits(rule, &tokens, &not_now) {
                continue;
            }
            if rule.level > best.level || (rule.level == Normal && best.reasons.is_empty()) {
                best.level = rule.level;
                best.reasons.clear();
                best.hazard = None;
            }
            if rule.level == best.level {
                if !best.reasons.iter().any(|r| matches!(r, Reason::Rule(name) if *name == rule.label)) {
                    best.reasons.push(Reason::Rule(rule.label.clone()));
                }
                best.hazard = best.hazard.or(rule.hazard);
            }
        }
        best
    }
}

/// The clauses that ask "what if" or tell of something long past: a
/// danger named there is not happening now.
fn not_now(tokens: &[Token]) -> Vec<usize> {
    let mut clauses = hypothetical_clauses(tokens);
    clauses.extend(past_clauses(tokens));
    clauses
}

/// Does the rule match the message's tokens (unnegated, in its context)?
/// A danger named in a clause that asks "what if" or tells of the long past
/// (`not_now`: those clauses) does not raise the level.
fn rule_hits(rule: &Rule, tokens: &[Token], not_now: &[usize]) -> bool {
    (0..tokens.len()).any(|start| {
        match_at(&rule.elems, tokens, start).is_some_and(|end| !denied_after(tokens, end))
            && !negated_match(tokens, start)
            && (rule.level == Normal || !not_now.contains(&tokens[start].clause))
            // A negated context does not cancel: "in full alarm, not the
            // low battery chirp" is about the alarm, not its battery.
            && !rule.context.iter().any(|c| occurs_unnegated(c, tokens))
            // A required context must be said, not denied ("not freezing").
            && (rule.requires.is_empty() || rule.requires.iter().any(|c| occurs_unnegated(c, tokens)))
            && rule.also.iter().all(|part| occurs_unnegated(part, tokens))
    })
}

/// The classifier's training rows for labelled messages: each with the
/// built-in rules' level as a feature.
pub fn training_rows(
    rows: &[(BusinessType, Priority, &str)],
) -> Vec<(super::triage_model::Features, Priority)> {
    let rules: Vec<Rules> = BusinessType::ALL.iter().map(|k| Rules::rules_only(*k)).collect();
    super::triage_model::training_rows(rows, |kind, text| {
        let i = BusinessType::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        rules[i].classify_rules(text).level
    })
}

/// How sure the classifier must be to overrule the rules (its head's
/// probabilities). Chosen on the development sets by 5-fold
/// cross-validation, URGENT recall weighted double (`tune_thresholds`).
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Raise a message to URGENT: the probability of URGENT.
    pub raise: f32,
    /// The same for a message of fewer than `short_words` words ("replace
    /// an old toilet"): its few words weigh heavily in the head, and a
    /// short answer to a question was raised by its topic alone.
    pub raise_short: f32,
    pub short_words: usize,
    /// Calm an URGENT rule match (a figure of speech, a past event): the
    /// probability of the level the head prefers.
    pub calm: f32,
    /// Raise a routine message to HIGH: the probability of HIGH.
    pub higher: f32,
    /// Lower a HIGH rule match to NORMAL (a faucet dripping into its
    /// basin, a slow drain: "drip" and "leak" are HIGH words): the
    /// probability of NORMAL.
    pub lower: f32,
    /// An owner's mark this close, and nearer than any built-in example,
    /// decides whatever the rules say.
    pub owner: f32,
}

pub const THRESHOLDS: Thresholds = Thresholds {
    raise: 0.35,
    raise_short: 0.5,
    short_words: 6,
    calm: 0.5,
    higher: 0.35,
    lower: 0.55,
    owner: 0.6,
};

/// What the classifier reads: the message without the caller's name, phone
/// numbers and email addresses. They say nothing about urgency, yet move a
/// vector made of the message's tokens ("I'm Dana Whitfield, 312-555-0142,
/// my disposal is jammed" read as URGENT).
pub fn without_contact_details(text: &str) -> String {
    let name: Vec<String> = super::answers::find_name(text)
        .map(|n| n.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let words: Vec<&str> = text.split_whitespace().collect();
    let phoneish = |w: &str| {
        w.chars().all(|c| c.is_ascii_digit() || "()+-.,".contains(c)) && w.chars().any(|c| c.is_ascii_digit())
    };
    let mut keep = vec![true; words.len()];
    let mut i = 0;
    while i < words.len() {
        if phoneish(words[i]) {
            // A run of digit groups with seven digits or more is a phone number; "105 degrees" stays.
            let end = (i..words.len()).find(|&j| !phoneish(words[j])).unwrap_or(words.len());
            let digits: usize =
                words[i..end].iter().map(|w| w.chars().filter(char::is_ascii_digit).count()).sum();
            if digits >= 7 {
                keep[i..end].iter_mut().for_each(|k| *k = false);
            }
            i = end;
        } else {
            let bare = words[i].trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-');
            if words[i].contains('@') || name.iter().any(|n| n == bare) {
                keep[i] = false;
            }
            i += 1;
        }
    }
    // The words that introduced a name go with it: "I'm" left alone moves
    // the vector toward the first-person stories of emergencies.
    const INTRO: &[&str] = &[
        "i'm", "im", "i", "am", "my", "name", "is", "this", "it's", "soy", "me", "llamo", "mi", "nombre",
        "es",
    ];
    let bare =
        |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-').to_lowercase();
    let starts: Vec<usize> = (1..words.len())
        .filter(|&i| !keep[i] && keep[i - 1] && name.iter().any(|n| n.to_lowercase() == bare(words[i])))
        .collect();
    for first in starts {
        let mut j = first;
        while j > 0 && INTRO.contains(&bare(words[j - 1]).as_str()) {
            j -= 1;
            keep[j] = false;
        }
    }
    words.iter().zip(keep).filter(|(_, k)| *k).map(|(w, _)| *w).collect::<Vec<_>>().join(" ")
}

fn combine_opt(rules: Decision, classifier: &Classifier, text: &str) -> Decision {
    match classifier.vote(&without_contact_details(text), rules.level) {
        Some(vote) => combine(rules, vote),
        None => rules,
    }
}

/// The rules' decision, overruled by the classifier where it is confident:
/// it may raise a message to URGENT or calm an URGENT rule match. The
/// reasons then name the example it resembles; a hazard found by the rules
/// stays (it picks the safety advice).
pub fn combine(rules: Decision, vote: Vote) -> Decision {
    combine_at(rules, vote, &THRESHOLDS)
}

pub fn combine_at(rules: Decision, vote: Vote, t: &Thresholds) -> Decision {
    let owner = vote.nearest.source == ExampleSource::Owner && vote.nearest.similarity >= t.owner;
    // An owner's mark this close decides, also when it agrees with the
    // rules: "this was not an emergency" must not be raised again by the head.
    let level = if owner {
        (vote.nearest.level != rules.level).then_some(vote.nearest.level)
    } else if rules.level != Urgent
        && vote.urgent >= if vote.words < t.short_words { t.raise_short } else { t.raise }
    {
        Some(Urgent)
    } else if rules.level == Urgent && vote.level != Urgent && vote.confidence >= t.calm {
        Some(vote.level)
    } else if rules.level == Normal && vote.level == High && vote.confidence >= t.higher {
        Some(High)
    } else if rules.level == High && vote.level == Normal && vote.confidence >= t.lower {
        Some(Normal)
    } else {
        None
    };
    // Explained by the nearest example of the level decided.
    let like = |level: Priority| {
        vote.nearest_by_level
            .iter()
            .find(|n| n.level == level)
            .cloned()
            .unwrap_or_else(|| vote.nearest.clone())
    };
    match level {
        Some(level) => {
            let nearest = like(level);
            Decision {
                level,
                reasons: vec![Reason::Like(nearest.text.clone())],
                hazard: if level == Urgent { rules.hazard } else { None },
                decided_by: DecidedBy::Classifier,
                nearest: Some(nearest),
            }
        }
        None => Decision { nearest: Some(like(rules.level)), ..rules },
    }
}

#[cfg(test)]
#[path = "triage_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "triage_recipe_tests.rs"]
mod recipe_tests;
