#include "apache/sections.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <memory>

#include "apache/lexer.h"

namespace ecert::apache {

namespace {

using Value = Verdict::Value;

Verdict unknown(std::string why) { return Verdict{Value::kUnknown, std::move(why)}; }
Verdict truth(bool value) { return Verdict{value ? Value::kTrue : Value::kFalse, {}}; }

// Modules whose source file is not mod_<name>.c (server/ and server/mpm/),
// for modules outside the generated table.
constexpr std::pair<std::string_view, std::string_view> kFileOf[] = {
    {"core_module", "core.c"},         {"http_module", "http_core.c"},    {"mpm_event_module", "event.c"},
    {"mpm_prefork_module", "prefork.c"}, {"mpm_worker_module", "worker.c"}, {"ldap_module", "util_ldap.c"},
};

const ModuleDirectives* known_by(std::string_view ModuleDirectives::*field, std::string_view value) {
  for (const ModuleDirectives& m : known_modules())
    if (m.*field == value) return &m;
  return nullptr;
}

// ssl_module -> mod_ssl.c, the convention of every module httpd ships
// (mod_so's own check of built-in modules relies on it too).
std::string file_of(std::string_view identifier) {
  for (const auto& [ident, file] : kFileOf)
    if (ident == identifier) return std::string(file);
  constexpr std::string_view suffix = "_module";
  if (identifier.size() <= suffix.size() || identifier.substr(identifier.size() - suffix.size()) != suffix) return {};
  return "mod_" + std::string(identifier.substr(0, identifier.size() - suffix.size())) + ".c";
}

// mod_ssl.c -> ssl_module.
std::string identifier_of(std::string_view file) {
  for (const auto& [ident, f] : kFileOf)
    if (f == file) return std::string(ident);
  if (file.size() > 6 && file.substr(0, 4) == "mod_" && file.substr(file.size() - 2) == ".c")
    return std::string(file.substr(4, file.size() - 6)) + "_module";
  return std::string(file);
}

bool registers(const ModuleDirectives& m, std::string_view directive) {
  std::string_view rest = m.directives;
  while (!rest.empty()) {
    std::size_t space = rest.find(' ');
    if (iequals(rest.substr(0, space), directive)) return true;
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
  }
  return false;
}

bool known_anywhere(std::string_view directive) {
  for (const ModuleDirectives& m : known_modules())
    if (registers(m, directive)) return true;
  return false;
}

Verdict negated(Verdict v) {
  if (v.value != Value::kUnknown) v.value = v.value == Value::kTrue ? Value::kFalse : Value::kTrue;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

const std::vector<std::string>& debian_compiled_modules() {
  static const std::vector<std::string> modules = {"core.c",         "mod_so.c",  "mod_watchdog.c", "http_core.c",
                                                   "mod_log_config.c", "mod_logio.c", "mod_version.c",  "mod_unixd.c"};
  return modules;
}

std::vector<std::string> defines_in_argv(const std::vector<std::string>& argv) {
  constexpr std::string_view kTakesArgument = "CcDdEefk";  // AP_SERVER_BASEARGS, plus the MPM's -k
  std::vector<std::string> names;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word == "--") break;
    if (word.size() < 2 || word[0] != '-') continue;
    for (std::size_t j = 1; j < word.size(); ++j) {
      if (kTakesArgument.find(word[j]) == std::string_view::npos) continue;
      std::string value = j + 1 < word.size() ? word.substr(j + 1) : (i + 1 < argv.size() ? argv[++i] : "");
      if (word[j] == 'D' && !value.empty()) names.push_back(std::move(value));
      break;
    }
  }
  return names;
}

Result<std::vector<std::string>> parse_compiled_modules(std::string_view output) {
  std::vector<std::string> modules;
  bool header = false;
  int lineno = 0;
  while (!output.empty()) {
    std::size_t nl = output.find('\n');
    std::string_view line = trim(output.substr(0, nl));
    output = nl == std::string_view::npos ? std::string_view{} : output.substr(nl + 1);
    ++lineno;
    if (line.empty()) continue;
    if (!header) {
      if (line != "Compiled in modules:")
        return Status::invalid("line " + std::to_string(lineno) + " of the module list is \"" + std::string(line) +
                               "\", not \"Compiled in modules:\"; give the output of apache2 -l");
      header = true;
      continue;
    }
    if (line.find_first_of(" \t") != std::string_view::npos || line.size() < 3 || line.substr(line.size() - 2) != ".c")
      return Status::invalid("line " + std::to_string(lineno) + " of the module list is \"" + std::string(line) +
                             "\", not a module source file name like mod_so.c; give the output of apache2 -l");
    modules.emplace_back(line);
  }
  if (!header) return Status::invalid("the module list is empty; give the output of apache2 -l");
  return modules;
}

Result<ServerVersion> parse_server_version(std::string_view output) {
  constexpr std::string_view kMarker = "Apache/";
  for (std::size_t at = output.find(kMarker); at != std::string_view::npos; at = output.find(kMarker, at + 1)) {
    int parts[3];
    std::size_t i = at + kMarker.size();
    int n = 0;
    for (; n < 3; ++n) {
      auto [end, ec] = std::from_chars(output.data() + i, output.data() + output.size(), parts[n]);
      if (ec != std::errc()) break;
      i = static_cast<std::size_t>(end - output.data());
      if (n < 2 && (i >= output.size() || output[i++] != '.')) break;
    }
    if (n == 3) return ServerVersion{parts[0], parts[1], parts[2]};
  }
  return Status::invalid("no \"Apache/<major>.<minor>.<patch>\" in the version output; give the output of apache2 -v");
}

StartupState::StartupState(const LoadOptions& options, const FileSystem& fs, fs::path server_root)
    : fs_(fs), version_(options.version), server_root_(std::move(server_root)) {
  for (const std::string& name : options.defines) defined_[name] = Fact{true, {}};
  const auto& compiled = options.compiled_modules.empty() ? debian_compiled_modules() : options.compiled_modules;
  for (const std::string& file : compiled) {
    const ModuleDirectives* known = known_by(&ModuleDirectives::file, file);
    modules_.push_back(Module{known ? std::string(known->identifier) : identifier_of(file), file, known, {}});
  }
}

void StartupState::define(const std::string& name, const std::optional<std::string>& value, const std::string& unsure) {
  Fact& fact = defined_[name];
  // Read or not, an unsure Define leaves a surely defined name defined.
  if (unsure.empty() || !fact.unsure.empty() || !fact.on) fact = Fact{true, unsure};
  if (!value) return;
  Var& var = vars_[name];
  if (unsure.empty() || var.value != value || !var.unsure.empty()) var = Var{value, unsure};
}

void StartupState::undefine(const std::string& name, const std::string& unsure) {
  auto fact = defined_.find(name);
  if (unsure.empty() || (fact != defined_.end() && fact->second.on)) defined_[name] = Fact{false, unsure};
  auto var = vars_.find(name);
  if (unsure.empty() || (var != vars_.end() && var->second.value)) vars_[name] = Var{std::nullopt, unsure};
}

void StartupState::load_module(const std::string& identifier, const std::string& unsure) {
  for (Module& m : modules_) {
    if (m.identifier != identifier) continue;
    if (unsure.empty()) m.unsure.clear();
    return;
  }
  const ModuleDirectives* known = known_by(&ModuleDirectives::identifier, identifier);
  modules_.push_back(Module{identifier, known ? std::string(known->file) : file_of(identifier), known, unsure});
}

void StartupState::set_server_root(const fs::path& root, const std::string& unsure) {
  server_root_ = root;
  server_root_unsure_ = unsure;
}

StartupState::Substitution StartupState::substitute(std::string_view text) const {
  Substitution out;
  if (text.find('$') == std::string_view::npos) {
    out.text = std::string(text);
    return out;
  }
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t open = text.find("${", i);
    std::size_t close = open == std::string_view::npos ? open : text.find('}', open + 2);
    if (close == std::string_view::npos) break;
    out.text.append(text, i, open - i);
    std::string name(text.substr(open + 2, close - open - 2));
    const char* value = nullptr;
    if (auto var = vars_.find(name); var != vars_.end()) {
      if (var->second.value) value = var->second.value->c_str();
      if (out.unsure.empty() && !var->second.unsure.empty()) out.unsure = var->second.unsure, out.unsure_name = name;
    }
    if (!value) value = std::getenv(name.c_str());
    if (value) {
      out.text += value;
    } else {
      out.text.append(text, open, close + 1 - open);
      if (out.missing.empty()) out.missing = name;
    }
    i = close + 1;
  }
  out.text.append(text, i, std::string_view::npos);
  return out;
}

bool StartupState::decides_reading(std::string_view section) {
  for (std::string_view s : {"IfDefine", "IfModule", "IfFile", "IfDirective", "IfSection", "IfVersion", "Macro"})
    if (iequals(section, s)) return true;
  return false;
}

Result<Verdict> StartupState::evaluate(std::string_view section, std::string_view args) const {
  if (iequals(section, "Macro"))
    return Verdict{Value::kFalse, "a <Macro> body is read only where a Use line expands it"};
  if (iequals(section, "IfVersion")) return if_version(args);
  // start_cond_section: a leading '!' negates; the first word is the argument.
  std::string_view rest = trim(args);
  bool negate = !rest.empty() && rest.front() == '!';
  if (negate) rest.remove_prefix(1);
  std::vector<std::string> words = split_arguments(rest);
  if (words.empty() || words[0].empty())
    return Status::invalid("<" + std::string(section) + "> needs an argument; add one or remove the section");
  Verdict v = test(section, words[0]);
  return negate ? negated(std::move(v)) : v;
}

Verdict StartupState::test(std::string_view section, const std::string& arg) const {
  if (iequals(section, "IfDefine")) return if_define(arg);
  if (iequals(section, "IfModule")) return if_module(arg);
  if (iequals(section, "IfFile")) return if_file(arg);
  if (iequals(section, "IfDirective")) return directive_exists(arg);
  return directive_exists("<" + arg);  // IfSection: sections register as "<Name"
}

Verdict StartupState::if_define(const std::string& name) const {
  auto it = defined_.find(name);
  if (it == defined_.end()) return truth(false);
  if (!it->second.unsure.empty()) return unknown(name + " is Defined or UnDefined inside " + it->second.unsure);
  return truth(it->second.on);
}

// ap_find_linked_module compares a module's source file name, the
// prelinked symbols and mod_so's list its identifier; both case-sensitively.
const StartupState::Module* StartupState::module_named(std::string_view name) const {
  for (const Module& m : modules_)
    if (m.identifier == name || m.file == name) return &m;
  return nullptr;
}

Verdict StartupState::if_module(const std::string& name) const {
  const Module* m = module_named(name);
  if (!m) return truth(false);
  if (!m->unsure.empty()) return unknown(m->identifier + " is loaded inside " + m->unsure);
  return truth(true);
}

Verdict StartupState::if_file(const std::string& path) const {
  fs::path p(path);
  if (p.is_relative()) {
    if (!server_root_unsure_.empty()) return unknown("the ServerRoot it is relative to is set inside " + server_root_unsure_);
    p = server_root_ / p;
  }
  return truth(fs_.stat(p.lexically_normal()).is_ok());  // apr_stat: any failure is "not there"
}

Verdict StartupState::directive_exists(std::string_view name) const {
  std::string unsure, outside_table;
  for (const Module& m : modules_) {
    if (!m.known) {
      if (outside_table.empty()) outside_table = m.identifier;
    } else if (registers(*m.known, name)) {
      if (m.unsure.empty()) return truth(true);
      if (unsure.empty()) unsure = m.identifier + ", which registers " + std::string(name) + ", is loaded inside " + m.unsure;
    }
  }
  if (!unsure.empty()) return unknown(unsure);
  if (!outside_table.empty() && !known_anywhere(name))
    return unknown("no module ecertctl knows registers " + std::string(name) + ", and it does not know which ones " +
                   outside_table + " registers");
  return truth(false);
}

namespace {

// mod_version's compare_version: "major[.minor[.patch]]", missing parts 0.
// Returns false when `text` is not such a version.
bool parse_version(std::string_view text, int (&parts)[3]) {
  parts[0] = parts[1] = parts[2] = 0;
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  int count = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size() && count < 3; ++i) {
    if (i == text.size() || text[i] == '.') {
      parts[count++] = std::atoi(std::string(text.substr(start, i - start)).c_str());
      start = i + 1;
    } else if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
  }
  return start >= text.size();
}

int compare(const ServerVersion& v, const int (&parts)[3]) {
  const int have[3] = {v.major, v.minor, v.patch};
  for (int i = 0; i < 3; ++i)
    if (have[i] != parts[i]) return have[i] > parts[i] ? 1 : -1;
  return 0;
}

// mod_version's match_version: the pattern searched in "major.minor.patch"
// by PCRE2 with the options ap_regcomp adds by default (DOTALL,
// DOLLAR_ENDONLY). Bounded, so a hostile pattern cannot hang the reader:
// beyond the bound the answer is unknown (nullopt).
Result<std::optional<bool>> regex_matches(const ServerVersion& v, std::string_view pattern) {
  int code = 0;
  PCRE2_SIZE offset = 0;
  std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> re(
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_DUPNAMES | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY, &code, &offset, nullptr),
      pcre2_code_free);
  if (!re) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(code, message, sizeof message);
    return Status::invalid("<IfVersion> cannot compile the regular expression " + std::string(pattern) + ": " +
                           reinterpret_cast<const char*>(message) + "; fix it");
  }
  std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> limits(
      pcre2_match_context_create(nullptr), pcre2_match_context_free);
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(re.get(), nullptr), pcre2_match_data_free);
  if (!limits || !data) return Status::invalid("out of memory evaluating an <IfVersion> regular expression");
  pcre2_set_match_limit(limits.get(), 100000);
  pcre2_set_depth_limit(limits.get(), 1000);
  const std::string text = std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
  int rc = pcre2_match(re.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, data.get(),
                       limits.get());
  if (rc >= 0) return std::optional<bool>(true);
  if (rc == PCRE2_ERROR_NOMATCH) return std::optional<bool>(false);
  return std::optional<bool>();
}

// One <IfVersion> test against a known version; nullopt when it cannot be
// told. `op` without its '!'.
Result<std::optional<bool>> version_matches(const ServerVersion& v, char op, bool or_equal, std::string_view version) {
  if (op == '~') return regex_matches(v, version);
  if (op == '=' && !version.empty() && version.front() == '/') {
    if (version.size() < 2 || version.back() != '/')
      return Status::invalid("<IfVersion> regular expression " + std::string(version) + " misses its closing /");
    return regex_matches(v, version.substr(1, version.size() - 2));
  }
  int parts[3];
  if (!parse_version(version, parts))
    return Status::invalid("<IfVersion> version \"" + std::string(version) +
                           "\" is not major[.minor[.patch]] with numbers; fix it");
  int c = compare(v, parts);
  if (op == '=') return std::optional<bool>(c == 0);
  return std::optional<bool>(op == '<' ? (c < 0 || (or_equal && c == 0)) : (c > 0 || (or_equal && c == 0)));
}

}  // namespace

Result<Verdict> StartupState::if_version(std::string_view args) const {
  const Module* mod = module_named("version_module");
  if (!mod)
    return Status::invalid("<IfVersion> is mod_version's section, and mod_version is neither compiled in nor loaded "
                           "before it; add LoadModule version_module before it or remove the section");
  if (!mod->unsure.empty()) return unknown("version_module is loaded inside " + mod->unsure);
  std::vector<std::string> words = split_arguments(args);
  if (words.empty() || words.size() > 2)
    return Status::invalid("<IfVersion> takes an optional operator and a version, e.g. <IfVersion >= 2.4.8>");
  std::string op = words.size() == 1 ? "=" : words[0];
  const std::string& version = words.back();
  bool reverse = op.size() > 1 && op[0] == '!';
  std::string_view p = reverse ? std::string_view(op).substr(1) : std::string_view(op);
  char c = p[0];
  bool or_equal = p.size() == 2 && p[1] == '=' && c != '~';
  if ((p.size() != 1 && !or_equal) || (c != '=' && c != '~' && c != '<' && c != '>'))
    return Status::invalid("<IfVersion> operator " + op + " is not one of = == < <= > >= ~ (! before any negates)");
  // Without the version, try both ends of the 2.4 patch range: the test is
  // known when they agree.
  ServerVersion low = version_.value_or(ServerVersion{2, 4, 0}), high = version_.value_or(ServerVersion{2, 4, INT_MAX});
  auto a = version_matches(low, c, or_equal, version);
  if (!a.is_ok()) return a.status();
  auto b = version_matches(high, c, or_equal, version);
  if (!b.is_ok()) return b.status();
  if (!*a || !*b) return unknown("the regular expression " + version + " is too costly to evaluate");
  const bool regex = c == '~' || (!version.empty() && version.front() == '/');
  if (**a != **b || (!version_ && regex))
    return unknown("the answer depends on Apache's patch level, which ecertctl was not given");
  return truth(**a != reverse);
}

}  // namespace ecert::apache
