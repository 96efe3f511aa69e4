// What Apache httpd 2.4 knows while it reads its config, and the sections it
// evaluates against that at startup to decide what it reads: <IfDefine>,
// <IfModule>, <IfFile>, <IfDirective>, <IfSection> (server/core.c,
// start_cond_section and its test_* callbacks) and <IfVersion>
// (mod_version). Modules are matched as server/config.c and mod_so match
// them, defines as Define, UnDefine and -D set them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apache/module_directives.h"
#include "util/fs.h"

namespace ecert::apache {

struct ServerVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
};

// What Apache knows before it reads its config file: the inputs of the
// evaluation that the config does not say.
struct LoadOptions {
  // Names given with -D on the command line (defines_in_argv of the
  // configtest argv). Defined before the first line is read; no ${NAME} value.
  std::vector<std::string> defines;
  // Modules compiled into the binary, by source file name as `apache2 -l`
  // prints them (parse_compiled_modules). Empty stands for
  // debian_compiled_modules(): a real binary always lists core.c.
  std::vector<std::string> compiled_modules;
  // The binary's version (parse_server_version of `apache2 -v`), for
  // <IfVersion>. Unset: 2.4 with an unknown patch level, so an <IfVersion>
  // whose answer depends on the patch level evaluates to unknown.
  std::optional<ServerVersion> version;
};

// Debian 12's `apache2 -l`: core.c mod_so.c mod_watchdog.c http_core.c
// mod_log_config.c mod_logio.c mod_version.c mod_unixd.c.
const std::vector<std::string>& debian_compiled_modules();

// The names an httpd command line defines, in order: "-D NAME" and "-DNAME",
// also behind other flags as httpd's getopt reads them ("-tDNAME"), up to
// "--". Other words are skipped: apachectl hands its options on to httpd.
// E.g. [apache2ctl, -D, STAGING, configtest] -> {STAGING}. argv[0] is the
// program and never read as an option.
std::vector<std::string> defines_in_argv(const std::vector<std::string>& argv);

// The modules listed by `apache2 -l` / `httpd -l`:
// "Compiled in modules:\n  core.c\n  mod_so.c\n" -> {core.c, mod_so.c}.
// Returns kInvalid naming what is wrong when the output is not such a list.
Result<std::vector<std::string>> parse_compiled_modules(std::string_view output);

// The version in `apache2 -v` / `httpd -v` output
// ("Server version: Apache/2.4.62 (Debian)"); kInvalid when there is none.
Result<ServerVersion> parse_server_version(std::string_view output);

// The outcome of a section's test.
struct Verdict {
  enum class Value { kFalse, kTrue, kUnknown };
  Value value = Value::kFalse;
  // kUnknown: why ecertctl cannot tell what Apache decides ("ecertctl does
  // not know which directives php_module registers"); kFalse: "" for a
  // failed test, else why Apache never reads the section as it stands.
  std::string why;
};

// Apache's state while it reads its config: defined names and ${NAME}
// values, modules present, ServerRoot. Apache runs Define, UnDefine,
// LoadModule and ServerRoot as it reads them (EXEC_ON_READ), so each change
// counts for what follows it, never for what came before.
//
// Unknown answers. <IfDirective X> and <IfSection X> ask whether a present
// module registers X. Every module of Debian's apache2 (module_directives.h)
// is known, so for those the answer is exact. When no known module registers
// X at all and a module outside the table is present (a third-party one,
// e.g. php_module), ecertctl cannot tell: the answer is unknown. (A directive
// of a known module that is not loaded is false even then: third-party
// modules do not register httpd's own directive names.) <IfVersion> is
// unknown when its answer depends on a version part ecertctl was not given.
// The reader reads an unknown section (Apache may) and marks what it finds
// there; a Define, UnDefine, LoadModule or ServerRoot read there is `unsure`
// (it names the section), and a later test or ${NAME} that depends on it is
// unknown too. A sure change of the same name makes it sure again.
class StartupState {
 public:
  // REQUIRES: `fs` outlives this object.
  StartupState(const LoadOptions& options, const FileSystem& fs, fs::path server_root);

  // Define NAME [VALUE]: NAME is defined; ${NAME} is VALUE when given (a
  // Define without value keeps an earlier value, as httpd does). `unsure`:
  // "" when Apache certainly reads the directive, else the section it is in.
  void define(const std::string& name, const std::optional<std::string>& value, const std::string& unsure);
  // UnDefine NAME: neither defined nor a ${NAME} value any more.
  void undefine(const std::string& name, const std::string& unsure);
  // LoadModule IDENTIFIER ...: present under the identifier and its source
  // file name (ssl_module and mod_ssl.c). A module already present is
  // skipped, as mod_so does.
  void load_module(const std::string& identifier, const std::string& unsure);
  // ServerRoot, already made absolute by the caller.
  void set_server_root(const fs::path& root, const std::string& unsure);
  const fs::path& server_root() const { return server_root_; }
  // "" when ServerRoot is sure, else the section that set it.
  const std::string& server_root_unsure() const { return server_root_unsure_; }

  struct Substitution {
    std::string text;
    std::string missing;  // the first ${NAME} defined nowhere (left as written), "" when none
    std::string unsure;   // a value used came from a Define read in an unknown section: that section
    std::string unsure_name;  // ... and the name of that value
  };
  // ap_resolve_env over a whole logical line: each ${NAME} becomes NAME's
  // Define value, else its value in the environment; a name found in
  // neither stays as written. Other '$' stay as written.
  Substitution substitute(std::string_view text) const;

  // True for the sections whose content Apache reads or skips depending on
  // evaluate(): the six conditional sections, and <Macro> (mod_macro), whose
  // body Apache reads only where a Use line expands it.
  static bool decides_reading(std::string_view section);

  // Evaluates <SECTION ARGS> (REQUIRES: decides_reading(SECTION)), where
  // ARGS is the text between the section's name and its closing '>', with
  // ${NAME} already substituted. <IfFile> takes a relative path relative to
  // ServerRoot. Returns kInvalid, with a message saying what to fix, where
  // Apache refuses the section itself (no argument; <IfVersion> without
  // mod_version, or with a bad operator or version).
  Result<Verdict> evaluate(std::string_view section, std::string_view args) const;

 private:
  struct Fact {
    bool on = false;
    std::string unsure;
  };
  struct Var {
    std::optional<std::string> value;
    std::string unsure;
  };
  struct Module {
    std::string identifier;  // LoadModule's name: ssl_module
    std::string file;        // source file name: mod_ssl.c ("" when not known)
    const ModuleDirectives* known = nullptr;  // nullptr: a module outside the table
    std::string unsure;
  };

  Verdict test(std::string_view section, const std::string& arg) const;
  Verdict if_define(const std::string& name) const;
  Verdict if_module(const std::string& name) const;
  Verdict if_file(const std::string& path) const;
  Verdict directive_exists(std::string_view name) const;
  Result<Verdict> if_version(std::string_view args) const;
  const Module* module_named(std::string_view name) const;

  const FileSystem& fs_;
  std::optional<ServerVersion> version_;
  std::map<std::string, Fact> defined_;
  std::map<std::string, Var> vars_;
  std::vector<Module> modules_;
  fs::path server_root_;
  std::string server_root_unsure_;
};

}  // namespace ecert::apache
