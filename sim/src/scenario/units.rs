//! Human units in scenario files: durations (`"6h"`), sizes (`"64MiB"`) and
//! bandwidths (`"50MB/s"`), with errors that suggest a valid value.

pub(super) mod dur {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!(
                "duration {s:?}: {e} (try \"90s\", \"6h\", \"30d\")"
            ))
        })
    }
}

pub(super) mod opt_dur {
    use serde::Deserializer;
    use std::time::Duration;
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::dur::deserialize(d).map(Some)
    }
}

pub(super) mod size {
    use serde::{Deserialize, Deserializer};
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<bytesize::ByteSize>()
            .map(|b| b.as_u64())
            .map_err(|e| {
                serde::de::Error::custom(format!("size {s:?}: {e} (try \"64MiB\", \"2TB\")"))
            })
    }
}

pub(super) mod rate {
    use serde::{Deserialize, Deserializer};
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = s.trim().strip_suffix("/s").ok_or_else(|| {
            serde::de::Error::custom(format!("bandwidth {s:?}: end it in /s, e.g. \"50MB/s\""))
        })?;
        bytes
            .parse::<bytesize::ByteSize>()
            .map(|b| b.as_u64())
            .map_err(|e| serde::de::Error::custom(format!("bandwidth {s:?}: {e}")))
    }
}
