#pragma once

#include <string>
#include <vector>

#include "manifest/model.h"
#include "util/fs.h"
#include "util/secret.h"

namespace ecert {

// Reads a key passphrase from its source. A file must be a regular file not
// readable or writable by group or others; one trailing newline is dropped.
// An environment variable is read from the copy capture_env_passphrases()
// took, or, for a name never captured, from the environment itself.
// An unset or empty variable, or an empty file, is an error saying what to do.
// Safe to call from several threads at once.
// REQUIRES: source.kind != kNone.
Result<SecretString> load_passphrase(const PassphraseSource& source, const FileSystem& fs);

// Takes each named variable out of the process environment into a
// process-wide store that load_passphrase() reads: the value is copied into a
// SecretString, its bytes in the environment are overwritten (so it is gone
// from /proc/<pid>/environ and a core file too) and the variable is unset. No
// command ecertctl starts and no ${NAME} in the Apache configuration can see
// it afterwards. A name that is not set is remembered as unset. A name
// captured before keeps its first value; a value set again meanwhile is
// removed from the environment all the same.
// REQUIRES: no other thread runs (setenv/unsetenv race with getenv): call it
// at start-up, right after the manifest is loaded.
void capture_env_passphrases(const std::vector<std::string>& names);

// The names of the environment variables the manifest's keys take their
// passphrase from, sorted, without repeats.
std::vector<std::string> passphrase_env_names(const Manifest& manifest);

}  // namespace ecert
