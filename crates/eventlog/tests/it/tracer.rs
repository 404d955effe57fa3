//! Reads the shape of the model's types from their serde derives, the same
//! derives the codec encodes with: every struct's fields in declaration order and
//! every enum's variants with their indexes, found by deserializing each type from
//! a probe that answers every question with an empty value and notes what was
//! asked. Enums are taken round the variants on successive passes until every
//! variant of every enum reached has been seen, so a new variant or a new enum
//! anywhere below `Event` is found without being named here.

use std::collections::BTreeMap;

use serde::de::value::{Error, U32Deserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

/// The type of a value, as the codec sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Not traced yet.
    Unknown,
    Unit,
    Bool,
    U8,
    U16,
    U32,
    U64,
    I64,
    Str,
    Bytes,
    Option(Box<Format>),
    Seq(Box<Format>),
    Tuple(Vec<Format>),
    /// A struct or an enum, described under its name.
    Named(&'static str),
}

impl Format {
    /// As the document writes it.
    pub fn render(&self) -> String {
        match self {
            Format::Unknown => "?".into(),
            Format::Unit => "unit".into(),
            Format::Bool => "bool".into(),
            Format::U8 => "u8".into(),
            Format::U16 => "u16".into(),
            Format::U32 => "u32".into(),
            Format::U64 => "u64".into(),
            Format::I64 => "i64".into(),
            Format::Str => "string".into(),
            Format::Bytes => "bytes".into(),
            Format::Option(f) => format!("option<{}>", f.render()),
            Format::Seq(f) => format!("vec<{}>", f.render()),
            Format::Tuple(fs) => format!(
                "({})",
                fs.iter().map(Format::render).collect::<Vec<_>>().join(", ")
            ),
            Format::Named(n) => (*n).to_owned(),
        }
    }
}

/// A variant's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Unit,
    Newtype(Format),
    Struct(Vec<(&'static str, Format)>),
    Tuple(Vec<Format>),
}

impl Payload {
    /// As the document writes it.
    pub fn render(&self) -> String {
        match self {
            Payload::Unit => "none".into(),
            Payload::Newtype(f) => f.render(),
            Payload::Struct(fields) => format!(
                "{{ {} }}",
                fields
                    .iter()
                    .map(|(n, f)| format!("{n}: {}", f.render()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Payload::Tuple(fs) => Format::Tuple(fs.clone()).render(),
        }
    }
}

/// What the trace found under one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Container {
    Struct(Vec<(&'static str, Format)>),
    /// The variants in index order; `None` for one not reached yet.
    Enum(Vec<(&'static str, Option<Payload>)>),
}

/// The types found so far, by name, and how often each enum was entered.
#[derive(Default)]
pub struct Tracer {
    pub containers: BTreeMap<&'static str, Container>,
    visits: BTreeMap<&'static str, usize>,
}

impl Tracer {
    /// Traces `T` until every variant of every enum reached is seen; returns one
    /// value of `T` per pass (together they hold every variant).
    pub fn trace<T: DeserializeOwned>(&mut self) -> Vec<T> {
        let mut values = Vec::new();
        for _ in 0..10_000 {
            let mut root = Format::Unknown;
            let value = T::deserialize(Probe {
                tracer: self,
                out: &mut root,
            })
            .unwrap_or_else(|e| panic!("tracing {}: {e}", std::any::type_name::<T>()));
            values.push(value);
            if self.complete() {
                return values;
            }
        }
        panic!("tracing did not reach every variant in 10,000 passes")
    }

    fn complete(&self) -> bool {
        self.containers.values().all(|c| match c {
            Container::Enum(vs) => vs.iter().all(|(_, p)| p.is_some()),
            Container::Struct(_) => true,
        })
    }
}

struct Probe<'t> {
    tracer: &'t mut Tracer,
    out: &'t mut Format,
}

fn unsupported(what: &str) -> Error {
    de::Error::custom(format!(
        "the tracer does not know {what}; teach it before the codec uses it"
    ))
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("self-describing values"))
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::Bool;
        v.visit_bool(false)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("i8"))
    }
    fn deserialize_i16<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("i16"))
    }
    fn deserialize_i32<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("i32"))
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::I64;
        v.visit_i64(0)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::U8;
        v.visit_u8(0)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::U16;
        v.visit_u16(0)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::U32;
        v.visit_u32(0)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::U64;
        v.visit_u64(0)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("f32"))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("f64"))
    }
    fn deserialize_char<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("char"))
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::Str;
        v.visit_str("")
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::Str;
        v.visit_string(String::new())
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::Bytes;
        v.visit_bytes(&[])
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::Bytes;
        v.visit_byte_buf(Vec::new())
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let mut inner = Format::Unknown;
        let value = v.visit_some(Probe {
            tracer: self.tracer,
            out: &mut inner,
        })?;
        *self.out = Format::Option(Box::new(inner));
        Ok(value)
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        *self.out = Format::Unit;
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(v)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        // A newtype struct encodes as its inner value.
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let mut seq = Elements {
            tracer: self.tracer,
            formats: vec![Format::Unknown],
            next: 0,
        };
        let value = v.visit_seq(&mut seq)?;
        let element = seq.formats.pop().expect("one element");
        *self.out = Format::Seq(Box::new(element));
        Ok(value)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Error> {
        let mut seq = Elements {
            tracer: self.tracer,
            formats: vec![Format::Unknown; len],
            next: 0,
        };
        let value = v.visit_seq(&mut seq)?;
        *self.out = Format::Tuple(seq.formats);
        Ok(value)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, v)
    }
    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("maps"))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let mut seq = Elements {
            tracer: self.tracer,
            formats: vec![Format::Unknown; fields.len()],
            next: 0,
        };
        let value = v.visit_seq(&mut seq)?;
        let traced = fields.iter().copied().zip(seq.formats).collect();
        seq.tracer
            .containers
            .insert(name, Container::Struct(traced));
        *self.out = Format::Named(name);
        Ok(value)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let visits = self.tracer.visits.entry(name).or_insert(0);
        let index = *visits % variants.len();
        *visits += 1;
        self.tracer
            .containers
            .entry(name)
            .or_insert_with(|| Container::Enum(variants.iter().map(|v| (*v, None)).collect()));
        *self.out = Format::Named(name);
        v.visit_enum(Variant {
            tracer: self.tracer,
            name,
            index,
        })
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("identifiers outside an enum"))
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(unsupported("ignored values"))
    }
}

/// A struct's fields, a tuple's or a sequence's elements.
struct Elements<'t> {
    tracer: &'t mut Tracer,
    formats: Vec<Format>,
    next: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(out) = self.formats.get_mut(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        seed.deserialize(Probe {
            tracer: &mut *self.tracer,
            out,
        })
        .map(Some)
    }
}

/// An enum, entered at one variant.
struct Variant<'t> {
    tracer: &'t mut Tracer,
    name: &'static str,
    index: usize,
}

impl Variant<'_> {
    fn record(self, payload: Payload) {
        if let Some(Container::Enum(vs)) = self.tracer.containers.get_mut(self.name) {
            vs[self.index].1 = Some(payload);
        }
    }
}

impl<'de, 't> de::EnumAccess<'de> for Variant<'t> {
    type Error = Error;
    type Variant = Variant<'t>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Error> {
        let index = u32::try_from(self.index).expect("few variants");
        let de: U32Deserializer<Error> = index.into_deserializer();
        Ok((seed.deserialize(de)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        self.record(Payload::Unit);
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let mut inner = Format::Unknown;
        let value = seed.deserialize(Probe {
            tracer: &mut *self.tracer,
            out: &mut inner,
        })?;
        self.record(Payload::Newtype(inner));
        Ok(value)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Error> {
        let mut seq = Elements {
            tracer: &mut *self.tracer,
            formats: vec![Format::Unknown; len],
            next: 0,
        };
        let value = v.visit_seq(&mut seq)?;
        let formats = seq.formats;
        self.record(Payload::Tuple(formats));
        Ok(value)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let mut seq = Elements {
            tracer: &mut *self.tracer,
            formats: vec![Format::Unknown; fields.len()],
            next: 0,
        };
        let value = v.visit_seq(&mut seq)?;
        let traced = fields.iter().copied().zip(seq.formats).collect();
        self.record(Payload::Struct(traced));
        Ok(value)
    }
}
