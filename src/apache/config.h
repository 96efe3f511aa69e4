// Apache httpd configuration: a lossless reader that follows Include and
// IncludeOptional, and an editor that changes only the lines it means to.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apache/sections.h"
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

// Lines first..last of a file, 1-based, inclusive.
struct LineRange {
  int first = 0;
  int last = 0;
};

struct VirtualHost {
  std::string file;       // as reached through Include (may be a symlink)
  std::string real_file;  // symlinks resolved: the file an edit replaces
  int line = 0;        // 1-based line of "<VirtualHost ...>"
  int end_line = 0;    // 1-based line of "</VirtualHost>"
  std::vector<std::string> addresses;  // as written: "*:443", "[::]:443", "_default_:443", "10.0.0.1"
  std::string server_name;             // first argument of ServerName, "" if none
  // Without a ServerName of its own, a block on a wildcard address (*,
  // _default_) answers to the main server's ServerName (Apache's
  // ap_fini_vhost_config): that name, "" otherwise or when it is unknown.
  std::string inherited_name;
  std::vector<std::string> aliases;    // every ServerAlias argument
  std::vector<SslDirective> ssl;       // every SSLCertificate{Key,,Chain}File Apache reads inside, nested sections too
  std::vector<SslDirective> stapling;  // every SSLUseStapling Apache reads inside
  // Sections inside the block, in `file`, that Apache skips (an <IfDefine>
  // that is false, ...): from their opening to their closing line. An edit
  // leaves their bytes alone (VhostEdit::unread).
  std::vector<LineRange> unread;
  // In Config::vhosts: "" when Apache certainly reads the block; else why it
  // may not (a section ecertctl cannot evaluate around it, or around its
  // ServerName, ServerAlias or SSLCertificate*File lines): such a vhost is
  // never chosen (see find_vhost). In Config::unread_vhosts: the section
  // that keeps Apache from reading it.
  std::string condition;

  // The value Apache would use (the last occurrence), if any.
  std::optional<std::string> ssl_value(std::string_view directive_name) const;
  // True if any address has this port, or no port at all (Apache's wildcard),
  // or the port "*".
  bool listens_on(int port) const;
  enum class NameMatch { kNone, kInherited, kWildcard, kExact };
  // kExact: ServerName or a ServerAlias equals `name` (case-insensitive);
  // kWildcard: only a wildcard ServerAlias (*, ?) matches it; kInherited:
  // only the main server's ServerName, which the block inherits, equals it.
  NameMatch match_name(std::string_view name) const;
  // ServerName (its own or inherited) or a ServerAlias equals `name`
  // (case-insensitive; the alias may be a wildcard pattern like *.example.com).
  bool serves(std::string_view name) const;
  // "file:line (*:443, ServerName x, ServerAlias y z)" for candidate lists;
  // "no ServerName" when there is none (and the main server's it inherits).
  std::string describe() const;
};

// A ServerAlias with '*' or '?' is a pattern (Apache's ap_is_matchexp);
// '[' is an ordinary character there, unlike in an Include glob.
bool is_alias_pattern(std::string_view alias);

// A <VirtualHost> address whose host is *, _default_, 0.0.0.0 or [::]: Apache
// files them all as the port's default address (ap_fini_vhost_config), and
// a block there without ServerName inherits the main server's.
bool is_wildcard_address(std::string_view address);
// An address as Apache tells them apart: "*:443" for any of those on 443,
// else the address as written, lower-cased.
std::string address_key(std::string_view address);

struct ConfigFile {
  fs::path path;       // as included
  fs::path real_path;  // symlinks resolved
  std::string content;  // exact bytes read
};

struct Config {
  fs::path root;         // apache.config
  fs::path server_root;  // ServerRoot, or the root file's directory
  std::vector<ConfigFile> files;      // every file read, in the order Apache reads them
  std::vector<VirtualHost> vhosts;    // in config order: the blocks Apache reads (or may read: see condition)
  // Blocks inside a section Apache skips, for messages only: never a
  // candidate, never edited. Only names, addresses and lines are filled in.
  std::vector<VirtualHost> unread_vhosts;
  // The main server's ServerName as Apache uses it (the last one read outside
  // any <VirtualHost>, scheme and port stripped); "" when there is none (Apache
  // then asks the system for its host name) or when a section ecertctl cannot
  // evaluate surrounds it.
  std::string server_name;
  Diagnostics warnings;  // e.g. an unresolved ${VAR} in an Include, an unmatched optional glob
  // Server-level SSLStaplingCache directives Apache reads (outside any
  // vhost), as file:line; and whether one is the block ecertctl adds.
  std::vector<std::string> stapling_caches;
  bool stapling_cache_added = false;
};

// Reads `root` and everything it includes, as Apache httpd 2.4 reads it at
// startup. Include and IncludeOptional take a file, a directory (every file
// inside, alphabetically) or a glob (matches in alphabetical order);
// relative paths are relative to ServerRoot. Directive names are
// case-insensitive; quoted arguments, backslash continuation lines, CRLF and
// ${VAR} from Define and the environment are understood.
//
// Sections are evaluated as Apache evaluates them while it reads (see
// sections.h): <IfDefine [!]NAME>, <IfModule [!]MODULE>, <IfFile [!]PATH>,
// <IfDirective [!]NAME>, <IfSection [!]NAME>, <IfVersion [!][op] VERSION>,
// nested and in order, against the -D names of `options` and the Defines and
// UnDefines read so far, the modules compiled in (`options`) and LoadModule'd
// so far (by identifier, ssl_module, or source file, mod_ssl.c), and
// ServerRoot. Nothing inside a false section is read: no Include followed, no
// Define, LoadModule or ServerRoot run, no vhost added to Config::vhosts (it
// goes to Config::unread_vhosts), no SSL directive added to its vhost. A
// <Macro> body is not read either (Apache reads it only where Use expands
// it). A section ecertctl cannot evaluate (see StartupState) is read, and
// the vhosts that depend on it carry VirtualHost::condition. Other sections
// (<Directory>, ...) are entered.
//
// ${VAR} is substituted in the whole logical line before it is split into
// words, as ap_resolve_env does; inside a skipped section nothing is
// substituted.
//
// Details that mirror Apache 2.4: a directory is read recursively; a glob
// may have wildcards in any component and does not match names starting
// with '.'; Include whose glob matches nothing is an error, IncludeOptional
// ignores a missing path or an empty glob; ServerRoot applies to the
// relative includes after it. An unresolved ${VAR} is left as written; in an
// Include path it skips that include with a warning. ServerName keeps the
// last occurrence, minus an "http(s)://" scheme and a ":port".
// On failure the Status (kInvalid) lists every problem found, one
// "file:line: error: what; what to do" per line: a missing Include target,
// an unclosed section, an include loop, a section Apache refuses (one
// without its argument, <IfVersion> without mod_version); a root that cannot
// be read returns the FileSystem's own status.
Result<Config> load_config(const FileSystem& fs, const fs::path& root, const LoadOptions& options = {});

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
  // VirtualHost::unread of the block: SSL directives there are neither
  // edited nor count as present; every byte there stays.
  std::vector<LineRange> unread;
  // The chain is in SSLCertificateFile (a fullchain file, Apache >= 2.4.8):
  // every SSLCertificateChainFile line of the block goes (settings.chain_file
  // is then empty).
  bool remove_chain = false;
  // OCSP stapling: true makes the block say "SSLUseStapling on" (a line that
  // says on stays; another SSLUseStapling line, or none, becomes a marked
  // one: a kStaplingMarker comment and the line); false removes a marked
  // line with its marker (what ecertctl added, nothing else); nullopt leaves
  // stapling alone.
  std::optional<bool> stapling;
};

// Returns `content` with, in each listed <VirtualHost> block, every existing
// SSLCertificateKeyFile / SSLCertificateFile / SSLCertificateChainFile line's
// argument replaced (keeping the directive's spelling, indentation, comments
// after it, line endings) and each missing one added as a new line just
// before </VirtualHost>, indented like the block's other directives, with
// the file's line ending. Lines inside an edit's `unread` ranges are
// neither edited nor looked at. Every other byte stays identical. Values with
// spaces or quotes are quoted. Errors when a listed line is not a
// <VirtualHost> opening. An empty path in `settings` leaves that directive
// alone (neither replaced nor added).
//
// A directive written over several physical lines (backslash continuation)
// is rewritten as one line with the first line's indentation; the line
// ending after it stays.
Result<std::string> patch_config_text(std::string_view content, const std::vector<VhostEdit>& edits);

// The comment line before a directive ecertctl added for vhost.stapling,
// so that turning stapling off removes exactly what it added.
inline constexpr const char* kStaplingMarker = "# ecertctl: vhost.stapling";

// `content` (a server-level configuration file) with the OCSP stapling cache
// that ecertctl adds when some vhost staples and the configuration has none
// (present), or without it (absent: the marked block is removed; nothing
// else is touched; ecertctl itself never removes it, since mod_ssl keeps
// the cache across a graceful restart and Apache exits on one without it).
// The block is appended at the end of the file:
//   # ecertctl: OCSP stapling cache for vhost.stapling
//   <IfModule mod_ssl.c>
//       SSLStaplingCache shmcb:ssl_stapling(65536)
//   </IfModule>
Result<std::string> set_stapling_cache(std::string_view content, bool present);
inline constexpr const char* kStaplingCacheMarker = "# ecertctl: OCSP stapling cache for vhost.stapling";

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
