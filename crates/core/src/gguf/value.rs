//! GGUF metadata values: the 13 value types, scalar values and (possibly
//! nested) homogeneous arrays.

use std::fmt;

/// Deepest array nesting the reader accepts and the writer writes: an array
/// of arrays is depth 2. Real models use depth 1 (token lists) at most.
pub const MAX_ARRAY_DEPTH: usize = 8;

/// A GGUF metadata value type; the discriminants are the ids in the file.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl ValueType {
    /// Every type, in id order.
    pub const ALL: [ValueType; 13] = [
        ValueType::U8,
        ValueType::I8,
        ValueType::U16,
        ValueType::I16,
        ValueType::U32,
        ValueType::I32,
        ValueType::F32,
        ValueType::Bool,
        ValueType::String,
        ValueType::Array,
        ValueType::U64,
        ValueType::I64,
        ValueType::F64,
    ];

    /// The type with GGUF id `id`, or `None` for an unknown id.
    pub fn from_id(id: u32) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|t| *t as u32 == id)
    }

    /// The GGUF id written in files.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Lower-case name, as used in error messages (`"u32"`, `"string"`).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::U8 => "u8",
            ValueType::I8 => "i8",
            ValueType::U16 => "u16",
            ValueType::I16 => "i16",
            ValueType::U32 => "u32",
            ValueType::I32 => "i32",
            ValueType::F32 => "f32",
            ValueType::Bool => "bool",
            ValueType::String => "string",
            ValueType::Array => "array",
            ValueType::U64 => "u64",
            ValueType::I64 => "i64",
            ValueType::F64 => "f64",
        }
    }

    /// The fewest bytes one value of this type takes in a file: its fixed
    /// size, 8 for a string (its length), 12 for a nested array (element
    /// type and length). Used to reject counts that cannot fit before
    /// allocating for them.
    pub fn min_encoded_len(self) -> u64 {
        match self {
            ValueType::U8 | ValueType::I8 | ValueType::Bool => 1,
            ValueType::U16 | ValueType::I16 => 2,
            ValueType::U32 | ValueType::I32 | ValueType::F32 => 4,
            ValueType::U64 | ValueType::I64 | ValueType::F64 | ValueType::String => 8,
            ValueType::Array => 12,
        }
    }

    /// Whether the type is one of the 8 integer types.
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            ValueType::U8
                | ValueType::I8
                | ValueType::U16
                | ValueType::I16
                | ValueType::U32
                | ValueType::I32
                | ValueType::U64
                | ValueType::I64
        )
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// The value of any integer type, widened; `None` for other types.
    pub fn as_integer(&self) -> Option<i128> {
        Some(match *self {
            Value::U8(v) => v.into(),
            Value::I8(v) => v.into(),
            Value::U16(v) => v.into(),
            Value::I16(v) => v.into(),
            Value::U32(v) => v.into(),
            Value::I32(v) => v.into(),
            Value::U64(v) => v.into(),
            Value::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// An `f32` or `f64` value as `f64`; `None` for other types.
    pub fn as_float(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Array nesting depth: 0 for a scalar or string, 1 for a flat array.
    pub fn depth(&self) -> usize {
        match self {
            Value::Array(a) => a.depth(),
            _ => 0,
        }
    }

    /// A short description of the type for error messages:
    /// `"u32"`, `"array of string"`.
    pub fn type_description(&self) -> String {
        match self {
            Value::Array(a) => format!("array of {}", a.elem_type()),
            v => v.value_type().name().to_owned(),
        }
    }
}

/// A homogeneous metadata array. Each nested array (`Array::Array`) has its
/// own element type, as in the file.
#[derive(Clone, Debug, PartialEq)]
pub enum Array {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(Vec<String>),
    Array(Vec<Array>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

impl Array {
    /// The type of the elements.
    pub fn elem_type(&self) -> ValueType {
        match self {
            Array::U8(_) => ValueType::U8,
            Array::I8(_) => ValueType::I8,
            Array::U16(_) => ValueType::U16,
            Array::I16(_) => ValueType::I16,
            Array::U32(_) => ValueType::U32,
            Array::I32(_) => ValueType::I32,
            Array::F32(_) => ValueType::F32,
            Array::Bool(_) => ValueType::Bool,
            Array::String(_) => ValueType::String,
            Array::Array(_) => ValueType::Array,
            Array::U64(_) => ValueType::U64,
            Array::I64(_) => ValueType::I64,
            Array::F64(_) => ValueType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Array::U8(v) => v.len(),
            Array::I8(v) => v.len(),
            Array::U16(v) => v.len(),
            Array::I16(v) => v.len(),
            Array::U32(v) => v.len(),
            Array::I32(v) => v.len(),
            Array::F32(v) => v.len(),
            Array::Bool(v) => v.len(),
            Array::String(v) => v.len(),
            Array::Array(v) => v.len(),
            Array::U64(v) => v.len(),
            Array::I64(v) => v.len(),
            Array::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nesting depth: 1 for a flat array, 2 for an array of flat arrays.
    pub fn depth(&self) -> usize {
        match self {
            Array::Array(v) => 1 + v.iter().map(Array::depth).max().unwrap_or(0),
            _ => 1,
        }
    }

    /// The elements widened to `i128` when the element type is an integer
    /// type; `None` otherwise.
    pub fn integers(&self) -> Option<Box<dyn Iterator<Item = i128> + '_>> {
        fn widen<'a, T: Copy + Into<i128> + 'a>(v: &'a [T]) -> Option<Box<dyn Iterator<Item = i128> + 'a>> {
            Some(Box::new(v.iter().map(|x| (*x).into())))
        }
        match self {
            Array::U8(v) => widen(v),
            Array::I8(v) => widen(v),
            Array::U16(v) => widen(v),
            Array::I16(v) => widen(v),
            Array::U32(v) => widen(v),
            Array::I32(v) => widen(v),
            Array::U64(v) => widen(v),
            Array::I64(v) => widen(v),
            _ => None,
        }
    }

    /// The strings, when this is an array of strings.
    pub fn as_strings(&self) -> Option<&[String]> {
        match self {
            Array::String(v) => Some(v),
            _ => None,
        }
    }

    /// The floats, when this is an array of `f32`.
    pub fn as_f32s(&self) -> Option<&[f32]> {
        match self {
            Array::F32(v) => Some(v),
            _ => None,
        }
    }

    /// The nested arrays, when this is an array of arrays.
    pub fn as_arrays(&self) -> Option<&[Array]> {
        match self {
            Array::Array(v) => Some(v),
            _ => None,
        }
    }
}

macro_rules! from_impls {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$variant(v)
            }
        }
        impl From<Vec<$t>> for Array {
            fn from(v: Vec<$t>) -> Array {
                Array::$variant(v)
            }
        }
        impl From<Vec<$t>> for Value {
            fn from(v: Vec<$t>) -> Value {
                Value::Array(Array::$variant(v))
            }
        }
        impl From<&[$t]> for Value {
            fn from(v: &[$t]) -> Value {
                Value::Array(Array::$variant(v.to_vec()))
            }
        }
    )*};
}

from_impls!(
    u8 => U8,
    i8 => I8,
    u16 => U16,
    i16 => I16,
    u32 => U32,
    i32 => I32,
    f32 => F32,
    bool => Bool,
    String => String,
    u64 => U64,
    i64 => I64,
    f64 => F64,
);

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.to_owned())
    }
}

impl From<Vec<&str>> for Array {
    fn from(v: Vec<&str>) -> Array {
        Array::String(v.into_iter().map(str::to_owned).collect())
    }
}

impl From<Vec<&str>> for Value {
    fn from(v: Vec<&str>) -> Value {
        Value::Array(v.into())
    }
}

impl From<&[&str]> for Value {
    fn from(v: &[&str]) -> Value {
        Value::Array(Array::String(v.iter().map(|s| (*s).to_owned()).collect()))
    }
}

impl From<Array> for Value {
    fn from(v: Array) -> Value {
        Value::Array(v)
    }
}

impl From<Vec<Array>> for Array {
    fn from(v: Vec<Array>) -> Array {
        Array::Array(v)
    }
}

impl From<Vec<Array>> for Value {
    fn from(v: Vec<Array>) -> Value {
        Value::Array(Array::Array(v))
    }
}

/// Typed reads of a value, with errors naming the key. Used by the reader's
/// `get_*` accessors and by the writer for `general.alignment`.
pub(crate) mod conv {
    use super::{Array, Value};
    use crate::gguf::error::{GgufError, Result};

    fn key_type(key: &str, expected: &'static str, v: &Value) -> GgufError {
        GgufError::KeyType { key: key.to_owned(), expected, found: v.type_description() }
    }

    fn fit<T: TryFrom<i128>>(key: &str, i: i128) -> Result<T> {
        T::try_from(i).map_err(|_| GgufError::IntOutOfRange {
            key: key.to_owned(),
            value: i,
            target: std::any::type_name::<T>(),
        })
    }

    /// Any integer value that fits `T`.
    pub(crate) fn int<T: TryFrom<i128>>(key: &str, v: &Value) -> Result<T> {
        let i = v.as_integer().ok_or_else(|| key_type(key, "integer", v))?;
        fit(key, i)
    }

    /// An `f32` value, or an `f64` rounded to `f32`.
    pub(crate) fn f32(key: &str, v: &Value) -> Result<f32> {
        match *v {
            Value::F32(x) => Ok(x),
            Value::F64(x) => Ok(x as f32),
            _ => Err(key_type(key, "f32", v)),
        }
    }

    /// An `f64` value, or an `f32` widened.
    pub(crate) fn f64(key: &str, v: &Value) -> Result<f64> {
        v.as_float().ok_or_else(|| key_type(key, "f64", v))
    }

    pub(crate) fn bool(key: &str, v: &Value) -> Result<bool> {
        v.as_bool().ok_or_else(|| key_type(key, "bool", v))
    }

    pub(crate) fn str<'a>(key: &str, v: &'a Value) -> Result<&'a str> {
        v.as_str().ok_or_else(|| key_type(key, "string", v))
    }

    pub(crate) fn array<'a>(key: &str, v: &'a Value) -> Result<&'a Array> {
        v.as_array().ok_or_else(|| key_type(key, "array", v))
    }

    pub(crate) fn str_array<'a>(key: &str, v: &'a Value) -> Result<&'a [String]> {
        v.as_array().and_then(Array::as_strings).ok_or_else(|| key_type(key, "array of string", v))
    }

    /// An array of any integer type whose elements all fit `T`.
    pub(crate) fn int_array<T: TryFrom<i128>>(key: &str, v: &Value) -> Result<Vec<T>> {
        let ints = v.as_array().and_then(Array::integers).ok_or_else(|| key_type(key, "array of integer", v))?;
        ints.map(|i| fit(key, i)).collect()
    }

    /// An array of `f32`, or of `f64` rounded to `f32`.
    pub(crate) fn f32_array(key: &str, v: &Value) -> Result<Vec<f32>> {
        match v.as_array() {
            Some(Array::F32(a)) => Ok(a.clone()),
            Some(Array::F64(a)) => Ok(a.iter().map(|&x| x as f32).collect()),
            _ => Err(key_type(key, "array of f32", v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ids_round_trip() {
        for t in ValueType::ALL {
            assert_eq!(ValueType::from_id(t.id()), Some(t));
        }
        assert_eq!(ValueType::from_id(13), None);
        assert_eq!(ValueType::from_id(u32::MAX), None);
    }

    #[test]
    fn depth_and_description() {
        let v: Value = vec![Array::from(vec![1u8]), Array::from(vec![Array::from(vec![2i8])])].into();
        assert_eq!(v.depth(), 3);
        assert_eq!(v.type_description(), "array of array");
        assert_eq!(Value::from(3u32).depth(), 0);
        assert_eq!(Value::from("x").type_description(), "string");
    }

    #[test]
    fn integers_widen() {
        let a = Array::from(vec![-1i8, 5]);
        assert_eq!(a.integers().unwrap().collect::<Vec<_>>(), vec![-1, 5]);
        assert!(Array::from(vec![1.0f32]).integers().is_none());
    }
}
