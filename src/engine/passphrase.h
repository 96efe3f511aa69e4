#pragma once

#include "manifest/model.h"
#include "util/fs.h"
#include "util/secret.h"

namespace ecert {

// Reads a key passphrase from its source. A file must be a regular file not
// readable or writable by group or others; one trailing newline is dropped.
// An unset or empty variable, or an empty file, is an error saying what to do.
// REQUIRES: source.kind != kNone.
Result<SecretString> load_passphrase(const PassphraseSource& source, const FileSystem& fs);

}  // namespace ecert
