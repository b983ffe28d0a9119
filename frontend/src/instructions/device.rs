//! RUN `--device` (BuildKit's `commands_rundevice.go`): CDI device requests.

use serde::Serialize;

use super::error::DeviceError;
use super::gocompat::parse_bool;
use super::suggest::suggest;

/// One `--device=` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The CDI device name (`vendor.com/class=name`).
    pub name: String,
    /// When false, a missing device is skipped.
    pub required: bool,
}

impl Device {
    /// Parses one `--device` value as BuildKit's `ParseDevice`.
    pub fn parse(val: &str) -> Result<Self, DeviceError> {
        let fields = super::csv::fields(val).map_err(|e| DeviceError::Csv {
            message: e.to_string(),
        })?;
        let mut d = Device {
            name: String::new(),
            required: false,
        };
        for field in fields {
            let Some((key, value)) = field.split_once('=') else {
                if field.to_lowercase() == "required" {
                    d.required = true;
                } else if d.name.is_empty() {
                    d.name = field;
                } else {
                    return Err(DeviceError::NotKeyValue { field });
                }
                continue;
            };
            let key = key.to_lowercase();
            match key.as_str() {
                "name" => {
                    if !d.name.is_empty() {
                        return Err(DeviceError::NameAlreadySet { name: d.name });
                    }
                    d.name = value.to_string();
                }
                "required" => {
                    d.required = parse_bool(value).ok_or_else(|| DeviceError::InvalidValue {
                        key: key.clone(),
                        value: value.to_string(),
                    })?;
                }
                _ => {
                    if d.name.is_empty() {
                        d.name = field.clone();
                        continue;
                    }
                    return Err(DeviceError::UnexpectedKey {
                        suggestion: suggest(&key, &["name", "required"], true),
                        key,
                        field: field.clone(),
                    });
                }
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str, required: bool) -> Device {
        Device {
            name: name.to_string(),
            required,
        }
    }

    #[test]
    fn buildkit_device_cases() {
        let ok = [
            (
                "vendor1.com/device=foo",
                dev("vendor1.com/device=foo", false),
            ),
            ("vendor1.com/device", dev("vendor1.com/device", false)),
            (
                "vendor1.com/device=foo,required",
                dev("vendor1.com/device=foo", true),
            ),
            (
                "vendor1.com/device=foo,required=true",
                dev("vendor1.com/device=foo", true),
            ),
            (
                "vendor1.com/device=foo,required=false",
                dev("vendor1.com/device=foo", false),
            ),
            (
                "name=vendor1.com/device=foo",
                dev("vendor1.com/device=foo", false),
            ),
            (
                "name=vendor1.com/device=foo,required",
                dev("vendor1.com/device=foo", true),
            ),
        ];
        for (input, want) in ok {
            assert_eq!(Device::parse(input).unwrap(), want, "{input}");
        }
        let err = Device::parse("vendor1.com/device=foo,name=vendor2.com/device=bar").unwrap_err();
        assert_eq!(
            err.to_string(),
            "device name already set to vendor1.com/device=foo"
        );
    }

    #[test]
    fn device_errors() {
        assert_eq!(
            Device::parse("a,b").unwrap_err().to_string(),
            "invalid field 'b' must be a key=value pair"
        );
        assert_eq!(
            Device::parse("a,required=maybe").unwrap_err().to_string(),
            "invalid value for required: maybe"
        );
        assert_eq!(
            Device::parse("a,nmae=x").unwrap_err().to_string(),
            "unexpected key 'nmae' in 'nmae=x' (did you mean name?)"
        );
        assert_eq!(
            Device::parse("").unwrap_err().to_string(),
            "failed to parse csv devices: EOF"
        );
    }
}
