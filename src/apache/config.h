// Apache httpd configuration: a lossless reader that follows Include and
// IncludeOptional, and an editor that changes only the lines it means to.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/diag.h"
#include "util/fs.h"

namespace ecert::apache {

// One SSLCertificate*File directive found inside a <VirtualHost>.
struct SslDirective {
  std::string name;   // canonical case: "SSLCertificateFile", ...
  std::string value;  // unquoted argument as Apache reads it
  int line = 0;       // 1-based, in `file`
  // The file the directive is written in: VirtualHost::file, or a file
  // included inside the block. An edit of this directive targets real_file.
  // Plain strings, not fs::path: a fleet's config holds tens of thousands of
  // these, and a path keeps a parsed copy of every component besides.
  std::string file;
  std::string real_file;
};

struct VirtualHost {
  std::string file;       // as reached through Include (may be a symlink)
  std::string real_file;  // symlinks resolved: the file an edit replaces
  int line = 0;        // 1-based line of "<VirtualHost ...>"
  int end_line = 0;    // 1-based line of "</VirtualHost>"
  std::vector<std::string> addresses;  // as written: "*:443", "[::]:443", "_default_:443", "10.0.0.1"
  std::string server_name;             // first argument of ServerName, "" if none
  std::vector<std::string> aliases;    // every ServerAlias argument
  std::vector<SslDirective> ssl;       // every SSLCertificate{Key,,Chain}File inside, nested sections too

  // The value Apache would use (the last occurrence), if any.
  std::optional<std::string> ssl_value(std::string_view directive_name) const;
  // True if any address has this port, or no port at all (Apache's wildcard),
  // or the port "*".
  bool listens_on(int port) const;
  enum class NameMatch { kNone, kWildcard, kExact };
  // kExact: ServerName or a ServerAlias equals `name` (case-insensitive);
  // kWildcard: only a wildcard ServerAlias (*, ?) matches it.
  NameMatch match_name(std::string_view name) const;
  // ServerName or a ServerAlias equals `name` (case-insensitive; the
  // alias may be a wildcard pattern like *.example.com).
  bool serves(std::string_view name) const;
  // "file:line (*:443, ServerName x, ServerAlias y z)" for candidate lists;
  // "no ServerName" when there is none.
  std::string describe() const;
};

struct ConfigFile {
  fs::path path;       // as included
  fs::path real_path;  // symlinks resolved
  std::string content;  // exact bytes read
};

struct Config {
  fs::path root;         // apache.config
  fs::path server_root;  // ServerRoot, or the root file's directory
  std::vector<ConfigFile> files;      // every file read, in the order Apache reads them
  std::vector<VirtualHost> vhosts;    // in config order
  Diagnostics warnings;  // e.g. an unresolved ${VAR} in an Include, an unmatched optional glob
};

// Reads `root` and everything it includes. Include and IncludeOptional take
// a file, a directory (every file inside, alphabetically) or a glob (matches
// in alphabetical order); relative paths are relative to ServerRoot. Sections
// (<IfModule>, <IfDefine>, <Directory>, ...) are entered but not evaluated:
// a vhost inside any of them counts. Directive names are case-insensitive;
// quoted arguments, backslash continuation lines, CRLF and ${VAR} from
// Define and the environment are understood. A missing Include target or a
// syntax error (unclosed section, include loop) is an error naming file:line.
//
// Details that mirror Apache 2.4: a directory is read recursively; a glob
// may have wildcards in any component and does not match names starting
// with '.'; Include whose glob matches nothing is an error, IncludeOptional
// ignores a missing path or an empty glob; ServerRoot applies to the
// relative includes after it. An unresolved ${VAR} is left as written; in an
// Include path it skips that include with a warning. ServerName keeps the
// last occurrence, minus an "http(s)://" scheme and a ":port".
// On failure the Status (kInvalid) lists every problem found, one
// "file:line: error: what; what to do" per line; a root that cannot be read
// returns the FileSystem's own status.
Result<Config> load_config(const FileSystem& fs, const fs::path& root);

// What one vhost must say.
struct SslSettings {
  std::string key_file;    // absolute paths
  std::string cert_file;
  std::string chain_file;
};

struct VhostEdit {
  int vhost_line = 0;  // VirtualHost::line of the block to edit
  SslSettings settings;
  // Directive names set by a file Included inside the block: they are edited
  // in that file (patch_directive_lines), so are not added to this one.
  std::vector<std::string> defined_in_includes;
};

// Returns `content` with, in each listed <VirtualHost> block, every existing
// SSLCertificateKeyFile / SSLCertificateFile / SSLCertificateChainFile line's
// argument replaced (keeping the directive's spelling, indentation, comments
// after it, line endings) and each missing one added as a new line just
// before </VirtualHost>, indented like the block's other directives, with
// the file's line ending. Every other byte stays identical. Values with
// spaces or quotes are quoted. Errors when a listed line is not a
// <VirtualHost> opening. An empty path in `settings` leaves that directive
// alone (neither replaced nor added).
//
// A directive written over several physical lines (backslash continuation)
// is rewritten as one line with the first line's indentation; the line
// ending after it stays.
Result<std::string> patch_config_text(std::string_view content, const std::vector<VhostEdit>& edits);

// Sets the argument of the directive whose logical line starts at `line`.
struct DirectiveEdit {
  int line = 0;
  std::string name;  // checked case-insensitively against the line
  std::string value;
};
// Like patch_config_text, but for directives addressed by line (those in a
// file Included inside a vhost). Errors when a line holds another directive.
Result<std::string> patch_directive_lines(std::string_view content, const std::vector<DirectiveEdit>& edits);

}  // namespace ecert::apache
