//! Retrieval, shared by the store backends and the conversation engine:
//! chunking documents for the index, the words a query searches (stems,
//! stopwords, the glossary), fusing rankings, a message's questions, and
//! picking the sentences that answer one. Pure functions, no query syntax:
//! each store backend writes its own (FTS5 in `store::sqlite`, `tsquery` in
//! `store::postgres`) and runs the full-text and vector searches.
//!
//! Longer than most files here because of one table: the glossary
//! (`GLOSSES`, a few hundred lines of data); the logic is small.

use std::collections::{BTreeMap, BTreeSet};

/// Target chunk size in characters: a paragraph or two, small enough that a
/// chunk is about one thing, large enough to carry its context.
const CHUNK_CHARS: usize = 700;

/// A passage retrieved for a query, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    pub chunk_id: i64,
    pub title: String,
    pub text: String,
    /// The web page its document came from, to cite or link to.
    pub source_url: Option<String>,
}

/// Splits a document into chunks on paragraph, then sentence, boundaries.
pub fn chunk(content: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for paragraph in content.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        for piece in split_long(paragraph) {
            if !current.is_empty() && current.len() + piece.len() + 2 > CHUNK_CHARS {
                chunks.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&piece);
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// A chunk and the heading of the section it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub heading: Option<String>,
    pub text: String,
}

/// Splits a document into sections at Markdown heading lines ("## Prices"),
/// then each section into chunks that carry its heading as their title, so
/// a chunk from the middle of a brochure still says what it is about. A
/// document without headings chunks exactly as [`chunk`] does.
pub fn chunk_sections(content: &str) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut heading: Option<String> = None;
    let mut body = String::new();
    let mut flush = |heading: &Option<String>, body: &mut String| {
        for text in chunk(body) {
            out.push(Chunk { heading: heading.clone(), text });
        }
        body.clear();
    };
    for line in content.lines() {
        match heading_text(line) {
            Some(h) => {
                flush(&heading, &mut body);
                heading = Some(h.to_string());
            }
            None => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    flush(&heading, &mut body);
    out
}

/// A chunk's title as retrieval shows it: its document's, and its section's
/// heading when it has one.
pub fn chunk_title(document: &str, heading: Option<&str>) -> String {
    match heading {
        Some(h) if h != document => format!("{document} — {h}"),
        _ => document.to_string(),
    }
}

/// The text of a Markdown ATX heading line ("# Title", up to six #).
pub fn heading_text(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let hashes = t.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &t[hashes..];
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let h = rest.trim().trim_end_matches('#').trim();
    (!h.is_empty()).then_some(h)
}

/// Breaks an over-long paragraph at sentence ends.
fn split_long(paragraph: &str) -> Vec<String> {
    if paragraph.len() <= CHUNK_CHARS {
        return vec![paragraph.to_string()];
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for sentence in sentences(paragraph) {
        if !current.is_empty() && current.len() + sentence.len() + 1 > CHUNK_CHARS {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(sentence);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Sentences of a text (split after . ! ? followed by white space, and at line breaks).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let end_of_sentence =
            matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1).is_some_and(|n| n.is_ascii_whitespace());
        if end_of_sentence || b == b'\n' {
            let s = text[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The questions of a message, each to be searched on its own: "Do you
/// work on Saturdays? and how much is a call-out?" is two. A message with
/// one question (or none) is itself. People often type questions without a
/// question mark ("are you licensed, and do you do financing"): a sentence
/// counts as a question when it ends with one or opens like one.
pub fn question_parts(message: &str) -> Vec<String> {
    let parts: Vec<String> = sentences(message)
        .into_iter()
        .flat_map(|s| {
            let pieces = split_joined_questions(s);
            // A statement followed by a question in the same sentence ("I'm in
            // Oak Hollow, do you fix tankless heaters") is searched in both
            // halves: the statement often names the other topic.
            let asks = s.ends_with('?')
                || opens_question(s.trim_start_matches(|c: char| !c.is_alphanumeric()))
                || pieces.len() > 1;
            if asks {
                pieces
            } else {
                Vec::new()
            }
        })
        .map(|s| s.trim_start_matches(|c: char| !c.is_alphanumeric()).to_string())
        .filter(|s| !query_terms(s).is_empty())
        .collect();
    if parts.len() > 1 {
        parts
    } else {
        vec![message.to_string()]
    }
}

/// How a question (or the next question of a sentence) begins, in English
/// and Spanish.
const OPENERS: &[&str] = &[
    "do you",
    "do u",
    "do i",
    "do they",
    "does ",
    "did you",
    "how ",
    "what ",
    "what's ",
    "whats ",
    "when ",
    "where ",
    "which ",
    "who ",
    "why ",
    "are you",
    "are u",
    "are the",
    "are they",
    "is there",
    "is it",
    "is the",
    "is that",
    "can you",
    "can u",
    "can i",
    "can we",
    "can someone",
    "can somebody",
    "could you",
    "could someone",
    "will you",
    "will the",
    "would you",
    "would someone",
    "should i",
    "also ",
    "where's ",
    "wheres ",
    "how's ",
    "who's ",
    "whos ",
    "when's ",
    "is anyone",
    "is anybody",
    "is someone",
    "is somebody",
    "is your",
    "are your",
    "can anyone",
    "can anybody",
    "does anyone",
    "will someone",
    "will somebody",
    "qué ",
    "cuánto",
    "cuanto",
    "cuánta",
    "cuanta",
    "cuándo",
    "dónde",
    "cómo",
    "tienen",
    "hacen",
    "pueden",
    "aceptan",
    "cobran",
    "trabajan",
    "vienen",
    "llegan",
    "hasta dónde",
    "hasta donde",
    "hay ",
    "van ",
    "dan ",
    "contestan",
    "atienden",
    "alguien",
    "instalan",
    "arreglan",
    "reparan",
    "venden",
    "ofrecen",
    "puedo",
    "debo",
];

/// Whether `text` begins the way a question does.
fn opens_question(text: &str) -> bool {
    let text = text.trim_start_matches(['¿', ' ']);
    let text = ["and ", "y "].iter().find_map(|j| strip_prefix_ignore_case(text, j)).unwrap_or(text);
    OPENERS.iter().any(|o| text.get(..o.len()).is_some_and(|h| h.eq_ignore_ascii_case(o)))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.get(..prefix.len()).filter(|h| h.eq_ignore_ascii_case(prefix)).map(|_| &text[prefix.len()..])
}

/// "Are you licensed, and do you do financing?" is two questions: a
/// sentence splits where "and" ("y"), "also" or a comma is followed by a
/// question opener.
fn split_joined_questions(sentence: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (at, _) in sentence.match_indices([',', ' ']) {
        let rest = &sentence[at + 1..];
        let rest = rest.trim_start_matches([',', ' ']);
        let joiner = ["and ", "And ", "y ", "Y "].iter().find_map(|j| rest.strip_prefix(j));
        let rest = joiner.unwrap_or(rest);
        // Only where a joint was: after a comma, or before "and"/"y".
        let joint = sentence[at..].starts_with(',') || joiner.is_some();
        if joint && opens_question(rest) && at > start && !query_terms(&sentence[start..at]).is_empty() {
            parts.push(&sentence[start..at]);
            start = at + 1;
        }
    }
    parts.push(&sentence[start..]);
    parts
}

/// Words that carry no topic.
const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "any", "are", "as", "at", "be", "can", "could", "do", "does", "for", "from",
    "get", "have", "hi", "hello", "how", "i", "if", "in", "is", "it", "its", "me", "much", "my", "need",
    "of", "on", "or", "our", "please", "so", "some", "that", "the", "there", "this", "to", "want", "was",
    "what", "when", "where", "which", "who", "will", "with", "would", "you", "your", "we", "us", "hey",
    "thanks", "de", "el", "la", "los", "las", "que", "en", "y", "un", "una", "por", "para", "es", "qué",
    "cuanto", "cuánto", "cuanta", "cuánta", "cual", "cuál", "como", "cómo", "donde", "dónde", "cuando",
    "cuándo", "tienen", "hacen", "ustedes", "usted", "su", "sus", "mi", "mis", "hay", "del", "al", "se",
    "lo", "le", "con", "quiero", "puedo", "pueden", "hola", "si", "sí", "esta", "está", "este",
];

/// Words a customer's question leans on that name no topic: people ("someone",
/// "guys"), going and coming ("come out", "show up"), hedges ("just",
/// "really"). Not searched: in a small knowledge base a rare light word
/// ("tell", "look") scores higher than the question's subject, and counts as
/// much toward covering it. (Kept out of [`STOPWORDS`]: a message of them
/// still asks something, see [`query_terms`].)
const LIGHT_WORDS: &str = "\
    someone somebody anyone anybody something anything somewhere anywhere guy guys people folks \
    person come comes coming came out up by just really actually even ever still also maybe probably \
    only look looking tell see know like thing things stuff kind sort lot not no yes ok okay go \
    now right while currently \
    going gonna wanna got let make say more than then very too here they them their these those \
    should must might shall has had been being were did done am im ll ve re don doesn isn aren won \
    cant dont whether guess wondering wonder wanted question quick way one ones place";

/// Whether a query word is searched: not a stop word, not a light word.
fn is_searched(word: &str) -> bool {
    let lower = word.to_lowercase();
    word.chars().count() > 1
        && !STOPWORDS.contains(&lower.as_str())
        && !LIGHT_WORDS.split_whitespace().any(|w| w == lower)
}

/// A light stem so "Saturdays" meets "Saturday" and "charges" meets "charge".
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    for suffix in ["ing", "es", "s", "ed"] {
        if let Some(base) = w.strip_suffix(suffix) {
            if base.len() >= 3 {
                return base.to_string();
            }
        }
    }
    w
}

/// Words customers use that documents say otherwise, and the commonest
/// Spanish words of a home-services question, each with the words an
/// English document would use. Searched beside the customer's own words,
/// so "¿cuánto cobran por la visita?" finds the service call fee. Keys are
/// lower case without accents.
///
/// Shared by every business, so only language belongs here: translations,
/// synonyms and inflections, regional names of things, idioms that ask a
/// price, the hours, the area or when to pay, and the home-services
/// trade's own words ("snake" a drain is clearing it). A gloss true of one
/// business's documents or offer (its founding year, its discounts, "be
/// home" for its visit policy), or that reads a word as one trade's thing
/// when it means another elsewhere ("heaters" as water heaters to an HVAC
/// company's customer, "window" as an arrival window), is that business's
/// own ([`Glossary`], its file's `[glossary]`); the demo business carries
/// the ones moved out of this table.
const GLOSSES: &[(&str, &str)] = &[
    // Spanish: when, and what it costs.
    ("horario", "hours"),
    ("horarios", "hours"),
    ("horas", "hours"),
    ("abren", "open hours"),
    ("abierto", "open hours"),
    ("abiertos", "open hours"),
    ("cierran", "close hours"),
    ("sabado", "saturday"),
    ("sabados", "saturdays"),
    ("domingo", "sunday"),
    ("domingos", "sundays"),
    ("semana", "week weekend"),
    ("noche", "night"),
    ("feriado", "holiday"),
    ("feriados", "holidays"),
    ("festivos", "holidays"),
    ("emergencia", "emergency"),
    ("emergencias", "emergency"),
    ("urgencia", "emergency"),
    ("urgente", "emergency"),
    ("precio", "price"),
    ("precios", "prices"),
    ("cuesta", "cost price"),
    ("cuestan", "cost price"),
    ("costo", "cost price"),
    ("cobran", "charge fee price"),
    ("cobra", "charge fee"),
    ("tarifa", "rate fee"),
    ("tarifas", "rates fees"),
    ("visita", "visit service call"),
    ("presupuesto", "estimate quote"),
    ("cotizacion", "estimate quote"),
    ("estimado", "estimate"),
    ("gratis", "free"),
    ("gratuito", "free"),
    ("gratuita", "free"),
    ("descuento", "discount"),
    ("descuentos", "discounts"),
    ("pago", "payment pay"),
    ("pagar", "pay payment"),
    ("pagos", "payments"),
    ("tarjeta", "card"),
    ("tarjetas", "cards"),
    ("efectivo", "cash"),
    ("financiamiento", "financing"),
    ("financiacion", "financing"),
    ("plazos", "financing monthly"),
    ("cuotas", "financing monthly"),
    ("garantia", "warranty guarantee"),
    ("garantias", "warranty"),
    ("factura", "invoice"),
    // Spanish: where, and who.
    ("zona", "area serve"),
    ("zonas", "areas serve"),
    ("area", "area serve"),
    ("cubren", "cover area"),
    ("atienden", "serve area"),
    ("llegan", "area travel"),
    ("ciudad", "town city"),
    ("ciudades", "towns"),
    ("pueblo", "town"),
    ("lejos", "miles travel"),
    ("millas", "miles"),
    ("licencia", "license licensed"),
    ("licenciados", "licensed"),
    ("seguro", "insured insurance"),
    ("asegurados", "insured"),
    ("plomero", "plumber"),
    ("plomeros", "plumbers"),
    ("tecnico", "technician"),
    ("tecnicos", "technicians"),
    ("equipo", "team"),
    ("cita", "appointment"),
    ("citas", "appointments"),
    ("agendar", "book appointment"),
    ("reservar", "book appointment"),
    ("cancelar", "cancel"),
    ("llamar", "call"),
    ("llamada", "call"),
    // Spanish: what is wrong.
    ("calentador", "water heater"),
    ("calentadores", "water heaters"),
    ("termo", "water heater"),
    ("tanque", "tank"),
    ("tuberia", "pipe pipes"),
    ("tuberias", "pipes"),
    ("tubo", "pipe"),
    ("tubos", "pipes"),
    ("caneria", "pipes"),
    ("fuga", "leak"),
    ("fugas", "leaks"),
    ("gotea", "drip leak"),
    ("goteo", "drip"),
    ("drenaje", "drain"),
    ("desague", "drain"),
    ("coladera", "drain"),
    ("tapado", "clogged clog"),
    ("tapada", "clogged clog"),
    ("atascado", "clogged"),
    ("destapar", "unclog drain"),
    ("inodoro", "toilet"),
    ("inodoros", "toilets"),
    ("excusado", "toilet"),
    ("grifo", "faucet"),
    ("llave", "faucet valve"),
    ("canilla", "faucet"),
    ("fregadero", "sink"),
    ("lavabo", "sink"),
    ("lavamanos", "sink"),
    ("ducha", "shower"),
    ("regadera", "shower"),
    ("alcantarillado", "sewer"),
    ("cloaca", "sewer"),
    ("agua", "water"),
    ("caliente", "hot"),
    ("olor", "smell"),
    ("inundacion", "flood flooding"),
    ("inundado", "flooding"),
    ("roto", "broken burst"),
    ("reventada", "burst"),
    ("reventado", "burst"),
    ("valvula", "valve"),
    ("cerrar", "shut off"),
    // English: the customer's word, the document's.
    ("callout", "service call"),
    ("cost", "price fee"),
    ("costs", "prices fees"),
    ("charge", "fee price"),
    ("rates", "prices"),
    ("quote", "estimate"),
    ("quotes", "estimates"),
    ("guarantee", "warranty"),
    ("guaranteed", "warranty"),
    ("finance", "financing"),
    ("installments", "financing"),
    ("weekend", "saturday sunday"),
    ("weekends", "saturday sunday"),
    ("towns", "area serve"),
    ("cover", "area serve"),
    ("areas", "area serve"),
    ("serve", "area"),
    ("travel", "trip"),
    ("bonded", "insured"),
    // Round four (issue 12): customers' words for the jobs, fees and
    // people the documents name otherwise.
    ("snake", "clearing drain"),
    ("snaked", "clearing drain"),
    ("unclog", "clearing drain"),
    ("unclogged", "clearing drain"),
    ("clogged", "clearing drain"),
    ("miles", "miles trip area"),
    ("far", "miles trip area"),
    ("reschedule", "move cancel appointment"),
    ("postpone", "move cancel appointment"),
    ("icemaker", "ice maker"),
    ("insurance", "insured"),
    ("insured", "insurance"),
    ("tonight", "night after-hours"),
    ("midnight", "night after-hours"),
    ("afterhours", "after-hours"),
    ("bought", "buy"),
    ("spread", "financing monthly payments"),
    ("subcontractors", "employees subcontractors"),
    // Spanish, round four.
    ("camara", "camera"),
    ("cierro", "close shut off"),
    ("principal", "main"),
    ("pared", "walls"),
    ("paredes", "walls"),
    ("contestan", "answers"),
    ("contesta", "answers"),
    ("sale", "cost price"),
    ("extra", "charge"),
    ("huele", "smell"),
    ("jubilado", "seniors"),
    ("veterano", "veterans"),
    // Round five (issue 12): asking a price in other words, and the jobs and
    // places customers name that the documents list under another word.
    ("ballpark", "prices"),
    ("hook", "install"),
    ("push", "move appointment"),
    ("permit", "permits"),
    ("restaurantes", "restaurants"),
    ("oficinas", "offices"),
    // Spanish, round six (issue 12): a home-services vocabulary written from
    // the trade, by topic, not from any question set: the jobs, the fixtures
    // and parts, the signs of trouble, paying, the company and the visit.
    ("plomeria", "plumbing"),
    ("instalar", "install"),
    ("instalan", "install"),
    ("instalacion", "installation install"),
    ("reparar", "repair"),
    ("reparan", "repair"),
    ("reparacion", "repair"),
    ("reparaciones", "repairs"),
    ("arreglar", "repair fix"),
    ("arreglan", "repair fix"),
    ("arreglo", "repair"),
    ("reemplazar", "replace replacement"),
    ("reemplazo", "replacement"),
    ("cambiar", "replace move"),
    ("cambian", "replace"),
    ("limpiar", "clean clearing"),
    ("limpian", "clean clearing"),
    ("limpieza", "cleaning clearing"),
    ("destapan", "clearing drain"),
    ("mantenimiento", "maintenance"),
    ("revisar", "inspection check"),
    ("revision", "inspection"),
    ("inspeccion", "inspection"),
    ("detectar", "detection find"),
    ("deteccion", "detection"),
    ("encontrar", "find"),
    ("servicio", "service"),
    ("servicios", "services"),
    ("lavavajillas", "dishwasher"),
    ("lavaplatos", "dishwasher"),
    ("triturador", "garbage disposal"),
    ("trituradora", "garbage disposal"),
    ("bomba", "pump"),
    ("sumidero", "sump"),
    ("suavizador", "water softener"),
    ("suavizadores", "water softeners"),
    ("ablandador", "water softener"),
    ("filtro", "filter"),
    ("filtros", "filters"),
    ("tina", "tub"),
    ("banera", "tub"),
    ("medidor", "meter"),
    ("cobre", "copper"),
    ("galvanizado", "galvanized"),
    ("galvanizados", "galvanized"),
    ("hielo", "ice"),
    ("alcantarilla", "sewer"),
    ("raices", "roots"),
    ("grasa", "grease"),
    ("presion", "pressure"),
    ("termostato", "thermostat"),
    ("piloto", "pilot"),
    ("sarro", "descaling sediment"),
    ("sedimento", "sediment"),
    ("ruido", "noises"),
    ("ruidos", "noises"),
    ("oxido", "rusty"),
    ("electrico", "electric"),
    ("electrica", "electric"),
    ("congelado", "frozen"),
    ("congelada", "frozen"),
    ("congelados", "frozen"),
    ("congeladas", "frozen"),
    ("sotano", "basement"),
    ("techo", "ceiling"),
    ("piso", "floor"),
    ("moho", "mold"),
    ("manchas", "stains"),
    ("humedad", "stains mold"),
    ("cuenta", "bill"),
    ("recibo", "bill invoice"),
    ("concreto", "concrete"),
    ("cemento", "concrete"),
    ("jardin", "lawns"),
    ("arboles", "trees"),
    ("aceptan", "accept"),
    ("acepta", "accept"),
    ("aceptar", "accept"),
    ("cheque", "checks"),
    ("cheques", "checks"),
    ("transferencia", "bank transfer"),
    ("debito", "debit"),
    ("credito", "credit"),
    ("interes", "interest"),
    ("intereses", "interest"),
    ("mensual", "monthly"),
    ("mensuales", "monthly"),
    ("mensualidades", "monthly payments"),
    ("meses", "months"),
    ("anos", "years"),
    ("dura", "last years"),
    ("duran", "last years"),
    ("cubre", "covered"),
    ("piezas", "parts"),
    ("partes", "parts"),
    ("repuestos", "parts"),
    ("fabricante", "manufacturer"),
    ("falla", "fails"),
    ("empleados", "employees"),
    ("subcontratistas", "subcontractors"),
    ("subcontratan", "subcontractors"),
    ("dueno", "owner"),
    ("duenos", "owner"),
    ("familia", "family-run"),
    ("familiar", "family-run"),
    ("empresa", "company"),
    ("compania", "company"),
    ("fundada", "founded"),
    ("antecedentes", "background-checked"),
    ("capacitacion", "training"),
    ("entrenamiento", "training"),
    ("permiso", "permit permits"),
    ("permisos", "permits"),
    ("inspecciones", "inspections"),
    ("certificado", "certificate"),
    ("maestro", "master"),
    ("aprendices", "apprentices"),
    ("manana", "morning"),
    ("tarde", "afternoon"),
    ("mediodia", "noon"),
    ("hoy", "same-day today"),
    ("ventana", "window"),
    ("llegada", "arrival"),
    ("mascotas", "pets"),
    ("adulto", "adult"),
    ("casa", "house home"),
    ("casas", "houses"),
    ("condominio", "condominiums"),
    ("condominios", "condominiums"),
    ("departamento", "units"),
    ("apartamento", "units"),
    ("edificio", "building"),
    ("comercial", "commercial"),
    ("comerciales", "commercial"),
    ("tiendas", "shops"),
    ("locales", "shops"),
    ("administrador", "building manager"),
    ("casero", "landlord"),
    ("arrendador", "landlord"),
    ("inundando", "flooding"),
    ("negras", "sewage"),
    ("drenajes", "drains"),
    ("desborda", "overflowing"),
    ("rebosa", "overflowing"),
    ("tapa", "lid clogged"),
    ("electricidad", "electrical power"),
    ("corriente", "power"),
    ("enchufes", "outlets"),
    ("tomacorrientes", "outlets"),
    ("breaker", "breaker panel"),
    ("interruptor", "breaker"),
    ("bomberos", "fire department"),
    ("lunes", "monday"),
    ("viernes", "friday"),
    ("navidad", "christmas"),
    ("dias", "days"),
    ("dia", "day"),
    // Round seven (issue 12): concepts the customer names in everyday words,
    // by class: a price without "price", upkeep, the trip out, the weekdays,
    // card names.
    ("expensive", "price cost extra"),
    ("pricey", "price cost"),
    ("cheap", "price cost"),
    ("cheaper", "price cost"),
    ("afford", "price financing"),
    ("maintenance", "maintain"),
    ("upkeep", "maintain maintenance"),
    ("servicing", "maintain"),
    ("tune", "maintain"),
    ("drive", "travel trip miles"),
    ("driving", "travel trip miles"),
    ("distance", "miles trip"),
    ("tuesday", "weekdays"),
    ("wednesday", "weekdays"),
    ("thursday", "weekdays"),
    ("weekday", "weekdays monday friday"),
    ("amex", "american express card"),
    ("ancianos", "seniors"),
    // Round eight (issue 12): the visit, the valve and paying, in words
    // customers use and the documents do not (Spanish by topic, from the
    // trade; regional names of the same fixtures).
    ("mover", "move appointment"),
    ("comprar", "buy"),
    ("girar", "turn"),
    ("palanca", "lever handle"),
    ("manija", "handle"),
    ("perilla", "handle"),
    ("pluma", "faucet"),
    // Round nine (issue 12): paying, regional names of the toilet and of
    // overflowing, the smell of gas (a rotten egg's, in any home), a repair
    // that fails again, from the trade and by topic.
    ("escusado", "toilet"),
    ("poceta", "toilet"),
    ("retrete", "toilet"),
    ("rebosar", "overflowing"),
    ("rebalsa", "overflowing"),
    ("rebalsar", "overflowing"),
    ("desbordar", "overflowing"),
    ("huevo", "rotten egg gas"),
    ("huevos", "rotten egg gas"),
    ("podrido", "rotten"),
    ("azufre", "rotten egg gas"),
    ("danar", "fails"),
    ("upfront", "payment due"),
    ("deposit", "payment due"),
    ("anticipo", "payment due"),
    ("adelantado", "payment due"),
];

/// Lower case without the accents Spanish puts on vowels.
fn plain(word: &str) -> String {
    word.to_lowercase()
        .chars()
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' | 'ö' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

/// The document's words for a customer's word (empty when it has none),
/// from the shared glossary only.
#[cfg(test)]
fn glosses(word: &str) -> Vec<&'static str> {
    NO_GLOSSARY.glosses(word)
}

/// One business's own glossary beside the shared one: the phrases its
/// customers say and the words its documents use for them (from its
/// business file's `[glossary]`, or the owner's knowledge page). What is
/// true of one business's documents ("be home": the "adult ... home"
/// sentence of its visit policy) lives here, so no other business searches
/// for it. A one-word phrase is looked up as the shared glossary's words are
/// (plurals, Spanish verb forms, and in the words that decide whether a
/// passage covers a question); a longer one is found in the question as the
/// shared phrases are, where a word begins ("electric heater" also finds
/// "electric heaters").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Glossary {
    words: BTreeMap<String, String>,
    phrases: Vec<(String, String)>,
}

/// The empty business glossary: the shared one alone.
pub static NO_GLOSSARY: Glossary = Glossary { words: BTreeMap::new(), phrases: Vec::new() };

impl Glossary {
    /// The business's entries, keyed as the shared glossary's are (lower
    /// case, no accents; a one-word phrase without hyphens). A phrase given
    /// twice keeps its first words, as in the shared table.
    pub fn new(entries: &[crate::domain::Gloss]) -> Glossary {
        let mut g = Glossary::default();
        for e in entries {
            let phrase = plain(&e.phrase).split_whitespace().collect::<Vec<_>>().join(" ");
            let words = e.words.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ");
            if phrase.is_empty() || words.is_empty() {
                continue;
            }
            if phrase.contains(' ') {
                if !g.phrases.iter().any(|(p, _)| *p == phrase) {
                    g.phrases.push((phrase, words));
                }
            } else {
                g.words.entry(phrase.replace('-', "")).or_insert(words);
            }
        }
        g
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }

    /// The business's words for a key, exactly.
    fn own(&self, key: &str) -> Option<&str> {
        self.words.get(key).map(String::as_str)
    }

    /// The document's words for a customer's word (empty when it has none),
    /// the shared glossary's and then the business's. A plural the glossary
    /// lacks is looked up singular ("veteranos", "eléctricos"), so one entry
    /// serves both.
    fn glosses<'a>(&'a self, word: &str) -> Vec<&'a str> {
        let key = plain(word).replace('-', "");
        if let Some(time) = clock_time(&key) {
            return time.to_vec();
        }
        let singular = [key.strip_suffix("es"), key.strip_suffix('s')];
        // And the other way: "hora" when the glossary lists "horas".
        let plural = [format!("{key}s"), format!("{key}es")];
        let keys: Vec<&str> = std::iter::once(Some(key.as_str()))
            .chain(singular)
            .flatten()
            .chain(plural.iter().map(String::as_str))
            .filter(|k| k.len() >= 3)
            .collect();
        let shared = keys
            .iter()
            .find_map(|k| gloss_entry(k))
            .map(|(_, g)| g)
            .or_else(|| spanish_infinitives(&key).find_map(|k| gloss_entry(&k)).map(|(_, g)| g));
        let own = match self.words.is_empty() {
            true => None,
            false => keys
                .iter()
                .find_map(|k| self.own(k))
                .or_else(|| spanish_infinitives(&key).find_map(|k| self.own(&k))),
        };
        let mut out: Vec<&'a str> = Vec::new();
        for g in shared.into_iter().chain(own).flat_map(|g| g.split(' ')) {
            // One step further: "descuento" is "discount", which the documents
            // put as "seniors ... off"; "cuesta" is "cost", a "price" or "fee".
            let further = gloss_entry(g).map(|(_, more)| more).into_iter().chain(self.own(g));
            for w in std::iter::once(g).chain(further.flat_map(|more| more.split(' '))) {
                if !out.contains(&w) {
                    out.push(w);
                }
            }
        }
        out
    }
}

/// The glossary entry of a word, from a map built once: every word of a
/// query is looked up several times over (as typed, singular, plural, and
/// as each infinitive it may come from); scanning the table for each took
/// 30 µs of a query's words at the median, the map 19 µs (release, 10,000
/// chunk bench). The first entry of a word wins, as in a scan.
fn gloss_entry(word: &str) -> Option<(&'static str, &'static str)> {
    static MAP: std::sync::LazyLock<std::collections::HashMap<&'static str, &'static str>> =
        std::sync::LazyLock::new(|| {
            let mut map = std::collections::HashMap::with_capacity(GLOSSES.len());
            for (w, g) in GLOSSES {
                map.entry(*w).or_insert(*g);
            }
            map
        });
    MAP.get_key_value(word).map(|(w, g)| (*w, *g))
}

/// The infinitives a Spanish present-tense verb may come from ("cancelo",
/// "pagan": "cancelar", "pagar"), so the glossary's infinitive serves every
/// person of the verb.
/// An infinitive with a pronoun joined to it ("cerrarla", "instalarlo",
/// "cambiármelo" once plain) is the infinitive too.
fn spanish_infinitives(word: &str) -> impl Iterator<Item = String> + '_ {
    const ENDINGS: &[&str] = &["amos", "emos", "imos", "as", "an", "es", "en", "o", "a", "e"];
    const ENCLITICS: &[&str] =
        &["melo", "mela", "selo", "sela", "las", "los", "les", "nos", "la", "lo", "le", "me", "se"];
    let enclitic = ENCLITICS
        .iter()
        .filter_map(move |e| word.strip_suffix(e))
        .filter(|inf| ["ar", "er", "ir"].iter().any(|end| inf.ends_with(end)) && inf.chars().count() >= 5)
        .map(str::to_string);
    ENDINGS
        .iter()
        .filter_map(move |e| word.strip_suffix(e))
        .filter(|stem| stem.chars().count() >= 3)
        .flat_map(|stem| ["ar", "er", "ir"].into_iter().map(move |inf| format!("{stem}{inf}")))
        .chain(enclitic)
}

/// The documents' words for a time of day written "10pm" or "3am": the
/// evening and the small hours are night (a surcharge, the emergency line),
/// the rest of the day is opening hours.
fn clock_time(word: &str) -> Option<&'static [&'static str]> {
    let (hour, pm) = match (word.strip_suffix("am"), word.strip_suffix("pm")) {
        (Some(h), _) => (h, false),
        (_, Some(h)) => (h, true),
        _ => return None,
    };
    let hour: u32 = hour.parse().ok().filter(|h| (1..=12).contains(h))?;
    let night = if pm { (6..12).contains(&hour) } else { hour < 6 || hour == 12 };
    Some(if night { &["night", "evening", "after-hours"] } else { &["hours"] })
}

/// Each topic word of a query with the words it stands for: a question is
/// covered by a passage when, for enough of its words, the word or one of
/// its glosses is there.
pub fn term_groups(query: &str) -> Vec<Vec<String>> {
    NO_GLOSSARY.term_groups(query)
}

impl Glossary {
    /// The words of a query, plus each hyphenated word joined when the glossary
    /// knows it ("call-out" is also "callout"), and each compound written as
    /// two words ("call out", "ice maker") joined likewise.
    fn words_of(&self, query: &str) -> Vec<String> {
        let plain_words: Vec<&str> = query.split(|c: char| !c.is_alphanumeric()).collect();
        let mut words: Vec<String> = plain_words.iter().map(|w| w.to_string()).collect();
        for token in query.split_whitespace().filter(|t| t.contains('-')) {
            let bare = token.trim_matches(|c: char| !c.is_alphanumeric());
            if !self.glosses(bare).is_empty() {
                words.push(bare.to_string());
            }
        }
        let parts: Vec<&str> = plain_words.into_iter().filter(|w| !w.is_empty()).collect();
        for pair in parts.windows(2).filter(|p| p[0].chars().count() >= 3 && p[1].chars().count() >= 3) {
            let joined = format!("{}{}", pair[0], pair[1]);
            if !self.glosses(&joined).is_empty() {
                words.push(joined);
            }
        }
        words
    }

    /// The query as the built-in model should read it: its topic words, each
    /// with glosses replaced by them (the model is English-first: "cobran" means
    /// nothing to it, "charge fee price" does). Stop words are left out: the
    /// model averages its words' vectors, and "do you", "will you put it in"
    /// pull every query toward the chunks written most in the second person
    /// (payment, emergency advice) whatever the question is about.
    pub fn glossed(&self, query: &str) -> String {
        let topic = query
            .split_whitespace()
            .filter_map(|w| {
                let bare = w.trim_matches(|c: char| !c.is_alphanumeric());
                let g = self.glosses(bare);
                if !g.is_empty() {
                    Some(g.join(" "))
                } else if !is_searched(bare) {
                    None
                } else {
                    Some(w.to_string())
                }
            })
            .chain(self.phrase_glosses(query).map(str::to_string))
            .collect::<Vec<_>>()
            .join(" ");
        // Nothing but stop words ("is it dying"): the model reads them all.
        if topic.is_empty() {
            query.to_string()
        } else {
            topic
        }
    }
}

/// The topic words of a query, stemmed and de-duplicated.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1 && !STOPWORDS.contains(&w.to_lowercase().as_str()))
        .map(stem)
        .filter(|w| seen.insert(w.clone()))
        .collect()
}

/// Phrases of stop words that still ask for something: "how much" asks a
/// price, though neither word is searched. Their document words are searched
/// beside the query's ("how much to unclog a tub" finds the flat prices,
/// not only the drain-cleaning service).
/// Spanish names for things that take several words ("calentador de paso"
/// is a tankless heater, "llave de paso" the shut-off valve) are here too,
/// written without accents.
const PHRASE_GLOSSES: &[(&str, &str)] = &[
    ("how much", "price"),
    ("what do you charge", "price"),
    ("what does it cost", "price"),
    ("calentador de paso", "tankless"),
    ("calentadores de paso", "tankless"),
    ("sin tanque", "tankless"),
    ("llave de paso", "shut-off valve main"),
    ("mano de obra", "labor"),
    ("fin de semana", "weekend saturday sunday"),
    ("fines de semana", "weekend saturday sunday"),
    ("aguas negras", "sewage"),
    ("agua caliente", "hot water"),
    ("de noche", "night"),
    ("mismo dia", "same-day"),
    ("a presion", "pressure"),
    ("personas mayores", "seniors"),
    ("adultos mayores", "seniors"),
    ("tercera edad", "seniors"),
    // Round eight (issue 12): asking a price and when to pay, in idioms
    // whose words name none of it ("what does it run", "set me back").
    ("does it run", "price"),
    ("would it run", "price"),
    ("will it run", "price"),
    ("it run me", "price"),
    ("set me back", "price"),
    ("what would it cost", "price"),
    ("what will it cost", "price"),
    ("up front", "payment due"),
    ("pay when", "payment due"),
    ("pay after", "payment due"),
    ("pay before", "payment due"),
    ("pay first", "payment due"),
    // Who does the work, and paying, in idioms.
    ("farm out", "subcontractors employees"),
    ("farm the work", "subcontractors employees"),
    ("own people", "employees"),
    ("in-house", "employees"),
    ("you take ", "accept"),
    ("u take ", "accept"),
    ("all take ", "accept"),
    ("yall take ", "accept"),
    ("hasta que hora", "hours"),
    ("a que hora", "hours"),
];

impl Glossary {
    fn phrase_glosses<'a>(&'a self, query: &str) -> impl Iterator<Item = &'a str> {
        let lower = plain(query);
        let whole = whole_house(&lower).then_some(["repipe", "whole-house"]);
        let mut phrases: Vec<&'a str> = PHRASE_GLOSSES
            .iter()
            .filter(|(p, _)| lower.contains(p))
            .flat_map(|(_, g)| g.split(' '))
            .collect();
        // The business's phrases only where a word begins: an owner's "be home"
        // is not in "maybe home".
        for (p, g) in &self.phrases {
            let starts_word =
                |at: usize| lower[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
            if lower.match_indices(p.as_str()).any(|(at, _)| starts_word(at)) {
                phrases.extend(g.split(' '));
            }
        }
        phrases.into_iter().chain(whole.into_iter().flatten())
    }
}

/// Whether a query speaks of all of a house's pipes ("all the old
/// plumbing", "every pipe in the house", "toda la tubería"): a whole-house
/// repipe, in the documents' words. `lower` is lower case without accents.
fn whole_house(lower: &str) -> bool {
    const WHOLE: &[&str] = &["all", "every", "whole", "entire", "toda", "todas", "todo", "todos"];
    const PIPES: &[&str] =
        &["pipe", "pipes", "piping", "plumbing", "tuberia", "tuberias", "caneria", "canerias", "plomeria"];
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words
        .iter()
        .enumerate()
        .any(|(i, w)| WHOLE.contains(w) && words[i + 1..].iter().take(4).any(|next| PIPES.contains(next)))
}

impl Glossary {
    /// The distinct searchable words of a query, lower-cased, with their glosses.
    pub fn query_words(&self, query: &str) -> Vec<String> {
        self.words_of(query)
            .into_iter()
            .filter(|w| is_searched(w))
            .flat_map(|w| {
                std::iter::once(w.to_lowercase()).chain(self.glosses(&w).into_iter().map(str::to_string))
            })
            .chain(self.phrase_glosses(query).map(str::to_string))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Each topic word of a query with the words it stands for: a question is
    /// covered by a passage when, for enough of its words, the word or one of
    /// its glosses is there.
    pub fn term_groups(&self, query: &str) -> Vec<Vec<String>> {
        let mut seen = BTreeSet::new();
        self.words_of(query)
            .into_iter()
            .filter(|w| is_searched(w))
            .filter(|w| seen.insert(stem(w)))
            .map(|w| std::iter::once(stem(&w)).chain(self.glosses(&w).into_iter().map(stem)).collect())
            .collect()
    }

    /// [`covers`], with this glossary.
    pub fn covers(&self, query: &str, passage: &str) -> bool {
        meets_bar(&self.term_groups(query), passage)
    }

    /// [`extract_answer`], with this glossary.
    pub fn extract_answer(&self, query: &str, passages: &[Passage]) -> Option<String> {
        answer_from(self.term_groups(query), passages)
    }
}

/// The words of a query, plus each hyphenated word joined when the glossary
/// knows it, with the shared glossary alone (see [`Glossary::query_words`]).
pub fn query_words(query: &str) -> Vec<String> {
    NO_GLOSSARY.query_words(query)
}

/// The query as the built-in model should read it, with the shared glossary
/// alone (see [`Glossary::glossed`]).
pub fn glossed(query: &str) -> String {
    NO_GLOSSARY.glossed(query)
}

/// Document frequencies of the stemmed words of `chunks`.
pub fn term_frequencies(chunks: &[String]) -> std::collections::HashMap<String, i64> {
    let mut df = std::collections::HashMap::new();
    for chunk in chunks {
        let terms: BTreeSet<String> =
            chunk.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 1).map(stem).collect();
        for term in terms {
            *df.entry(term).or_insert(0) += 1;
        }
    }
    df
}

/// Below this many chunks every query word is searched.
const PRUNE_FROM: i64 = 500;

/// The words worth searching, and whether they are all common. In a large
/// knowledge base, words found in more than 5% of chunks are dropped while
/// rarer ones remain, so a query scores hundreds of rows, not thousands; when
/// every word is common they are all kept, to be searched together (AND).
pub fn prune_common(words: Vec<String>, df: &[i64], total: i64) -> (Vec<String>, bool) {
    if total < PRUNE_FROM || words.is_empty() {
        return (words, false);
    }
    let limit = total / 20;
    if df.iter().all(|&d| d > limit) {
        return (words, true);
    }
    (words.into_iter().zip(df).filter(|(_, &d)| d <= limit).map(|(w, _)| w).collect(), false)
}

/// How much a ranking after the first counts in [`fuse`]. The stores pass
/// the full-text ranking first: on the development knowledge sets the
/// static vectors alone chose a passage about the same topic but the wrong
/// document more often than the words did, so they break ties and agree,
/// rather than outvote the words.
const LATER_RANKING_WEIGHT: f64 = 0.5;

/// How much the vectors count when full text's best passage does not cover
/// the question (see [`fuse_hybrid`]).
const UNSURE_VECTOR_WEIGHT: f64 = 1.0;

/// Full text and vectors fused for a query. The static vectors know topics,
/// not documents: they often prefer a passage on the same topic from the
/// wrong document (prices when the question is about the service). So when
/// full text's best passage covers the question (`covered`, see
/// [`covers`]), it stays first and the vectors only order the rest; when it
/// does not, the words missed and the vectors count as much as they do.
pub fn fuse_hybrid(full_text: &[i64], vectors: &[i64], k: f64, covered: bool) -> Vec<i64> {
    let rankings = [full_text.to_vec(), vectors.to_vec()];
    if !covered {
        return fuse_weighted(&rankings, k, UNSURE_VECTOR_WEIGHT);
    }
    let mut ids = fuse(&rankings, k);
    if let Some(&top) = full_text.first() {
        ids.retain(|&id| id != top);
        ids.insert(0, top);
    }
    ids
}

/// Whether a passage covers a question, the bar [`extract_answer`] sets
/// before it answers from a passage: it holds at least half of the
/// question's topic words (each word or one of its glosses), and at least
/// half of its subject words (see [`is_aspect`]).
pub fn covers(query: &str, passage: &str) -> bool {
    NO_GLOSSARY.covers(query, passage)
}

/// Words that ask what something costs or when it happens, not what it is
/// about: a question's aspect. Many passages quote prices or hours, so a
/// passage that holds only these ("how much is a call out" and a passage
/// with water heater prices) does not cover the question.
const ASPECT_WORDS: &str = "\
    price prices cost costs fee fees charge charges rate rates expensive cheap cheaper pay paid \
    extra hour hours time times open close late early long day days week weeks";

/// Whether a term group (a word and its glosses) asks about price or time.
fn is_aspect(group: &[String]) -> bool {
    // Stemmed once: this runs for every question word against every passage ranked.
    static STEMS: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| ASPECT_WORDS.split_whitespace().map(stem).collect());
    STEMS.iter().any(|a| group.contains(a))
}

/// Words that ask whether a job is done, not which job: a question's
/// action. Every passage that lists services holds them, so a passage that
/// holds only these ("do you clean gutters" and the drain-cleaning passage)
/// does not cover the question: the thing asked about is missing. "Work"
/// is not among them: "do you work on the sabbath" asks about the hours.
const ACTION_WORDS: &str = "\
    fix fixes repair repairs install installs put clean cleans handle handles service services \
    offer offers provide provides replace replaces sell sells carry carries";

/// Whether a term group (a word and its glosses) names an action.
fn is_action(group: &[String]) -> bool {
    static STEMS: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| ACTION_WORDS.split_whitespace().map(stem).collect());
    STEMS.iter().any(|a| group.contains(a))
}

/// [`covers`] for a question's term groups.
fn meets_bar(terms: &[Vec<String>], text: &str) -> bool {
    let words = stems_of(text);
    let all = count_covered(terms.iter(), &words);
    if all == 0 || all * 2 < terms.len() {
        return false;
    }
    let subject: Vec<&Vec<String>> = terms.iter().filter(|g| !is_aspect(g) && !is_action(g)).collect();
    let on_subject = count_covered(subject.iter().copied(), &words);
    subject.is_empty() || (on_subject > 0 && on_subject * 2 >= subject.len())
}

/// The stemmed words of a text.
fn stems_of(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(stem).collect()
}

/// How many of the term groups have a word among `words`.
fn count_covered<'a>(terms: impl Iterator<Item = &'a Vec<String>>, words: &BTreeSet<String>) -> usize {
    terms.filter(|group| group.iter().any(|t| words.contains(t))).count()
}

/// How many of the term groups have a word in `text`.
fn coverage(terms: &[Vec<String>], text: &str) -> usize {
    count_covered(terms.iter(), &stems_of(text))
}

/// Reciprocal rank fusion of several rankings (ids best first; the first
/// ranking, full text, counts most).
pub fn fuse(rankings: &[Vec<i64>], k: f64) -> Vec<i64> {
    fuse_weighted(rankings, k, LATER_RANKING_WEIGHT)
}

/// [`fuse`] with the rankings after the first weighted `later`.
fn fuse_weighted(rankings: &[Vec<i64>], k: f64, later: f64) -> Vec<i64> {
    let mut scores: BTreeMap<i64, f64> = BTreeMap::new();
    for (i, ranking) in rankings.iter().enumerate() {
        let weight = if i == 0 { 1.0 } else { later };
        for (rank, id) in ranking.iter().enumerate() {
            *scores.entry(*id).or_default() += weight / (k + rank as f64 + 1.0);
        }
    }
    let mut ids: Vec<(i64, f64)> = scores.into_iter().collect();
    ids.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ids.into_iter().map(|(id, _)| id).collect()
}

/// An answer extracted from the best passage, when it covers the question
/// well enough to say it out loud; None means "have someone follow up".
pub fn extract_answer(query: &str, passages: &[Passage]) -> Option<String> {
    NO_GLOSSARY.extract_answer(query, passages)
}

/// [`extract_answer`] for a question's term groups.
fn answer_from(terms: Vec<Vec<String>>, passages: &[Passage]) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    let coverage = |text: &str| coverage(&terms, text);
    // The passage that covers this question best; the search's rank breaks ties
    // (several questions' passages come together, best first for each).
    let (confident, best) = passages
        .iter()
        .enumerate()
        .map(|(rank, p)| {
            let text = format!("{} {}", p.title, p.text);
            ((meets_bar(&terms, &text), coverage(&text)), std::cmp::Reverse(rank), p)
        })
        .max_by_key(|(covered, rank, _)| (*covered, *rank))
        .map(|((confident, _), _, p)| (confident, p))?;
    // Confident when most of the question's topic words, and of its subject, are there.
    if !confident {
        return None;
    }
    let mut scored: Vec<(usize, usize, &str)> =
        sentences(&best.text).into_iter().enumerate().map(|(i, s)| (coverage(s), i, s)).collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let top = scored.first().filter(|s| s.0 > 0)?;
    // The best sentence, plus the next one when it scores too (a short answer reads better).
    let mut picked: Vec<(usize, &str)> = vec![(top.1, top.2)];
    if let Some(second) = scored.get(1).filter(|s| s.0 > 0 && s.0 + 1 >= top.0) {
        picked.push((second.1, second.2));
    }
    picked.sort_by_key(|p| p.0);
    Some(picked.into_iter().map(|p| p.1).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(title: &str, text: &str) -> Passage {
        Passage { chunk_id: 1, title: title.into(), text: text.into(), source_url: None }
    }

    /// The demo business's own glossary, from its business file.
    fn demo() -> Glossary {
        let file = include_str!("../assets/demo/acme-plumbing.toml");
        let bundle = crate::provision::parse_bundle(file).expect("the demo business file parses");
        Glossary::new(&bundle.glossary)
    }

    #[test]
    fn chunks_respect_paragraphs_and_size() {
        let doc =
            format!("{}\n\n{}\n\nShort end.", "A sentence here. ".repeat(30), "Another one. ".repeat(60));
        let chunks = chunk(&doc);
        assert!(chunks.len() >= 3, "{chunks:?}");
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_CHARS + 20));
        assert_eq!(chunk("  \n\n "), Vec::<String>::new());
    }

    #[test]
    fn headings_become_chunk_titles() {
        let doc =
            "Intro words here.\n\n## Prices\n\nService call $89.\n\n### Hours ###\nOpen 8 to 5.\n#1 in town.";
        let chunks = chunk_sections(doc);
        let got: Vec<(Option<&str>, &str)> =
            chunks.iter().map(|c| (c.heading.as_deref(), c.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (None, "Intro words here."),
                (Some("Prices"), "Service call $89."),
                (Some("Hours"), "Open 8 to 5.\n#1 in town.")
            ]
        );
        let plain = "One paragraph.\n\nAnother.";
        assert_eq!(chunk_sections(plain).into_iter().map(|c| c.text).collect::<Vec<_>>(), chunk(plain));
        assert_eq!(heading_text("#nope"), None);
        assert_eq!(heading_text("####### seven"), None);
    }

    #[test]
    fn common_words_are_pruned_only_in_large_bases() {
        let words = vec!["service".to_string(), "backflow".to_string(), "valve".to_string()];
        assert_eq!(
            prune_common(words.clone(), &[900, 3, 40], 1000),
            (vec!["backflow".into(), "valve".into()], false)
        );
        assert_eq!(
            prune_common(words.clone(), &[900, 300, 400], 1000),
            (words.clone(), true),
            "all common: AND"
        );
        assert_eq!(
            prune_common(words.clone(), &[90, 3, 40], 100),
            (words.clone(), false),
            "small bases: every word"
        );
        let df = term_frequencies(&["Saturdays and hours".into(), "Saturday hours".into()]);
        assert_eq!((df["saturday"], df["hour"], df["and"]), (2, 2, 1));
    }

    #[test]
    fn messages_split_into_their_questions() {
        assert_eq!(
            question_parts("Do you work on Saturdays? and how much do you charge for a call-out?"),
            ["Do you work on Saturdays?", "and how much do you charge for a call-out?"]
        );
        assert_eq!(question_parts("Hi! Do you work on Saturdays?"), ["Hi! Do you work on Saturdays?"]);
        assert_eq!(question_parts("my tap drips"), ["my tap drips"]);
        assert_eq!(
            question_parts("Are you licensed, and do you do financing?"),
            ["Are you licensed", "and do you do financing?"]
        );
        assert_eq!(
            question_parts("How much is a new water heater and how long does it take?"),
            ["How much is a new water heater", "and how long does it take?"]
        );
        assert_eq!(question_parts("Can you fix taps and toilets?"), ["Can you fix taps and toilets?"]);
        // Typed without a question mark, or with "y" between Spanish questions.
        assert_eq!(
            question_parts("are you licensed, and do you do financing"),
            ["are you licensed", "and do you do financing"]
        );
        assert_eq!(
            question_parts("¿Tienen licencia? y hasta dónde llegan"),
            ["Tienen licencia?", "y hasta dónde llegan"]
        );
        // Statements are not questions; one question stays whole.
        assert_eq!(
            question_parts("my tap drips, and the toilet runs"),
            ["my tap drips, and the toilet runs"]
        );
        assert_eq!(question_parts("I smell gas. What do I do"), ["I smell gas. What do I do"]);
        // A statement and a question in one sentence: the statement names a topic too.
        assert_eq!(
            question_parts("I'm in Oak Hollow, do you fix tankless heaters"),
            ["I'm in Oak Hollow", "do you fix tankless heaters"]
        );
        assert_eq!(
            question_parts("where's the shutoff usually and how fast can you get here"),
            ["where's the shutoff usually", "and how fast can you get here"]
        );
    }

    #[test]
    fn customers_words_find_the_documents_words() {
        let words = query_words("¿Cuánto cobran por la visita?");
        for w in ["cobran", "fee", "service", "call"] {
            assert!(words.contains(&w.to_string()), "{w} in {words:?}");
        }
        let fee = passage("Prices", "Service call fee: a service call costs $89.");
        let answer = extract_answer("¿Cuánto cobran por la visita?", std::slice::from_ref(&fee));
        assert_eq!(answer.as_deref(), Some("Service call fee: a service call costs $89."));
        assert_eq!(term_groups("my tap drips"), [vec!["tap".to_string()], vec!["drip".to_string()]]);
        let area = passage(
            "Service area",
            "We serve Lakemont and Cedar Bend, within 25 miles of the shop. There is no travel charge inside our service area.",
        );
        let answer = extract_answer("what areas do you cover?", std::slice::from_ref(&area)).unwrap();
        assert!(answer.starts_with("We serve Lakemont"), "{answer}");
        assert!(query_words("how much to unclog a tub?").contains(&"price".to_string()));
        let callout = query_words("how much is a call-out?");
        assert!(
            callout.contains(&"service".to_string()) && callout.contains(&"call".to_string()),
            "{callout:?}"
        );
        // The model reads topic words only, glossed; a query of stop words alone is read whole.
        assert_eq!(glossed("¿Cuánto cobran por la visita?"), "charge fee price visit service call");
        assert_eq!(glossed("how are you?"), "how are you?");
        // Plurals find a singular entry; Spanish names of several words are glossed whole.
        assert!(query_words("¿hay descuento para veteranos?").contains(&"veterans".to_string()));
        let tankless = query_words("¿instalan calentadores de paso?");
        assert!(tankless.contains(&"tankless".to_string()), "{tankless:?}");
        assert!(query_words("¿dónde está la llave de paso?").contains(&"shut-off".to_string()));
        assert!(glosses("gas").is_empty(), "a two-letter stem is no entry");
    }

    #[test]
    fn full_text_keeps_its_best_passage_when_it_covers_the_question() {
        // Covered: full text's best stays first though the vectors rank it last.
        assert_eq!(fuse_hybrid(&[1, 2, 3], &[3, 2, 9, 1], 60.0, true), [1, 2, 3, 9]);
        // Not covered: the vectors count as much as the words.
        assert_eq!(fuse_hybrid(&[1, 2, 3], &[3, 2, 9, 1], 60.0, false)[..3], [3, 2, 1]);
        assert_eq!(fuse_hybrid(&[], &[4, 5], 60.0, false), [4, 5]);
        let hours = "Business hours. On Saturdays we work 8am to 2pm.";
        assert!(covers("Do you work on Saturdays?", hours));
        assert!(covers("¿abren los sábados?", hours), "through the glossary");
        assert!(!covers("do you install water softeners on Saturdays?", hours));
        assert!(!covers("will you put it in", hours));
    }

    #[test]
    fn a_passage_covers_a_question_only_with_its_subject() {
        // Price and time words alone do not cover: the subject must be there.
        let heater_prices = "A tankless water heater typically costs $3,800 installed; the price depends \
                             on the venting. A pilot that keeps going out is a sign of trouble.";
        let fees = "Service call fee: a service call costs $89.";
        assert!(!covers("how much is a call out", heater_prices));
        assert!(covers("how much is a call out", fees));
        assert!(!covers("what do you charge to clear a drain", heater_prices));
        assert!(covers("what does a tankless heater cost", heater_prices));
        // A question of price or time words only is judged on them.
        assert!(covers("what does it cost", heater_prices));
        let answer = extract_answer("how much is a call-out?", &[passage("Water heaters", heater_prices)]);
        assert_eq!(answer, None);
    }

    #[test]
    fn light_words_are_not_searched() {
        let words = query_words("can someone come out on a sunday if it's not an emergency");
        assert_eq!(words, ["emergency", "sunday"]);
        // Still a question to answer or follow up.
        assert!(!query_terms("can someone come out").is_empty());
        assert_eq!(glossed("is anybody even working"), "working");
    }

    #[test]
    fn glosses_reach_the_documents_words() {
        // One step further through the glossary: descuento, discount, and the
        // demo's own "discount": "seniors ... off".
        let seniors = demo().query_words("¿hay descuento para personas mayores?");
        for w in ["discount", "seniors", "off"] {
            assert!(seniors.contains(&w.to_string()), "{w} in {seniors:?}");
        }
        assert!(!query_words("¿hay descuento?").contains(&"veterans".to_string()), "the demo's offer only");
        // A compound written apart is the glossary's word.
        assert!(term_groups("how much is a call out").iter().any(|g| g.contains(&"service".to_string())));
        assert!(!query_words("are a family business?").contains(&"serve".to_string()), "not joined");
        // Clock times: the evening and small hours are night.
        assert!(query_words("is it more if you come at 10pm").contains(&"night".to_string()));
        assert!(query_words("can you come at 2am").contains(&"night".to_string()));
        assert_eq!(glosses("10am"), ["hours"]);
        // A Spanish verb in any person finds its infinitive's entry.
        assert_eq!(glosses("cancelo"), glosses("cancelar"));
        assert!(glosses("pagamos").contains(&"pay"));
        assert!(glosses("13pm").is_empty() && glosses("pm").is_empty());
        // All of a house's pipes is a whole-house repipe; one pipe is not.
        assert!(query_words("how long to replace all the old pipes").contains(&"repipe".to_string()));
        assert!(query_words("¿cuánto cuesta cambiar toda la tubería?").contains(&"repipe".to_string()));
        assert!(!query_words("can you replace a pipe under the sink").contains(&"repipe".to_string()));
    }

    #[test]
    fn round_eight_glosses_reach_the_documents_words() {
        // A singular whose plural is listed; a pronoun joined to a verb.
        assert!(glosses("hora").contains(&"hours"));
        assert!(glosses("cerrarla").contains(&"shut"));
        assert!(glosses("instalarlo").contains(&"install"));
        // Idioms that name no topic word.
        assert!(query_words("is it pay up front or after").contains(&"payment".to_string()));
        assert!(query_words("what does it run to snake a drain").contains(&"price".to_string()));
        let twice = "if it breaks a year from now am I paying twice";
        assert!(demo().query_words(twice).contains(&"warranty".to_string()));
        assert!(!query_words(twice).contains(&"warranty".to_string()), "the demo's own idiom");
        assert!(query_words("do you farm the work out").contains(&"employees".to_string()));
        // "right now" and "while" are not the subject.
        assert_eq!(term_groups("what should I do while the heater leaks right now").len(), 2);
    }

    #[test]
    fn round_nine_glosses_reach_the_documents_words() {
        let demo = demo();
        let has = |q: &str, w: &str| demo.query_words(q).contains(&w.to_string());
        // Paying, and when.
        assert!(has("will you take a cheque from my building society", "checks"));
        assert!(query_words("will you take a cheque").contains(&"checks".to_string()), "a translation");
        assert!(has("so when do we pay you, on arrival?", "due"));
        assert!(has("¿cuándo se paga, al terminar?", "due"));
        // Being home for the visit.
        assert!(has("does someone have to be home while your guy works", "adult"));
        assert!(has("¿tengo que estar en casa durante el trabajo?", "adult"));
        // Regional toilets, overflowing, the smell of gas.
        assert!(has("la poceta se tapó", "toilet"));
        assert!(has("el retrete está por rebalsar", "overflowing"));
        assert!(has("hay olor a huevos en la cocina", "gas"));
        // A repair that fails again.
        assert!(has("si la reparación vuelve a fallar, ¿la pagamos de nuevo?", "warranty"));
        assert!(has("¿me cobran otra vez si se rompe?", "warranty"));
        // Which kind of heater is serviced.
        assert!(has("do you fix electric heaters too?", "tankless"));
        assert!(has("¿arreglan calentadores eléctricos?", "tankless"));
    }

    /// The demo's own wording reaches the demo's searches, and no other
    /// business's: a law firm or an HVAC company asked the same gets the
    /// shared glossary's language alone.
    #[test]
    fn a_business_glossary_is_its_own() {
        let demo = demo();
        for (question, word) in [
            ("does someone have to be home while your guy works", "adult"),
            ("do you fix electric heaters too?", "tankless"),
            ("¿qué hacemos mientras llega?", "turn"),
            ("how long have you been around", "1998"),
            ("is there a time window for the visit", "arrival"),
            ("¿me cobran otra vez si se rompe?", "warranty"),
        ] {
            assert!(demo.query_words(question).contains(&word.to_string()), "demo: {question}");
            assert!(!query_words(question).contains(&word.to_string()), "shared: {question}");
            assert!(demo.glossed(question).contains(word), "demo model text: {question}");
        }
        // A one-word phrase counts toward covering a question, as the shared words do.
        let visit = "An adult needs to be home for the visit.";
        assert!(demo.covers("is it ok to leave you alone?", visit));
        assert!(!covers("is it ok to leave you alone?", visit));
        // The owner's phrases are found where a word begins, plurals included.
        let owner = Glossary::new(&[
            crate::domain::Gloss { phrase: "Be Home".into(), words: "adult present".into() },
            crate::domain::Gloss { phrase: "furnace".into(), words: "heating system".into() },
        ]);
        assert!(owner.query_words("must I be home?").contains(&"present".to_string()));
        assert!(!owner.query_words("maybe home").contains(&"present".to_string()));
        assert!(owner.query_words("do you service furnaces").contains(&"heating".to_string()));
        assert!(!NO_GLOSSARY.query_words("do you service furnaces").contains(&"heating".to_string()));
    }

    #[test]
    fn an_action_alone_does_not_cover_a_question() {
        let drains = "Drain cleaning: we clear clogged sinks and clean kitchen lines.";
        assert!(!covers("do you clean gutters", drains));
        assert!(covers("do you clean kitchen lines", drains));
        assert!(covers("do you unclog sinks", drains));
    }

    #[test]
    fn fusion_rewards_agreement() {
        assert_eq!(fuse(&[vec![1, 2, 3], vec![2, 9, 8]], 60.0)[..2], [2, 1]);
        // Swapped tops: the first ranking (full text) counts most.
        assert_eq!(fuse(&[vec![1, 2], vec![2, 1]], 60.0), [1, 2]);
    }

    #[test]
    fn extracts_the_answering_sentences_or_declines() {
        let hours = passage(
            "Business hours",
            "We are open Monday to Friday, 7am to 6pm. On Saturdays we work 8am to 2pm. \
             We are closed on Sundays, but the emergency line answers 24/7.",
        );
        let answer = extract_answer("Do you work on Saturdays?", std::slice::from_ref(&hours)).unwrap();
        assert!(answer.contains("Saturdays we work 8am to 2pm"), "{answer}");
        assert_eq!(extract_answer("Do you install solar panels on roofs?", &[hours]), None);
        assert_eq!(extract_answer("anything?", &[]), None);
    }
}
