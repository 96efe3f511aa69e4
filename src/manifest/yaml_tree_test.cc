// yaml::Document must read like YAML::Load: same node kinds, marks, tags,
// scalars, sizes and order, aliases included.
#include <doctest/doctest.h>

#include <yaml-cpp/yaml.h>

#include "manifest/yaml_tree.h"

namespace ecert::yaml {
namespace {

void same(const YAML::Node& want, const Node& got, int depth) {
  REQUIRE(want.Type() == got.Type());
  CHECK(want.Mark().pos == got.Mark().pos);
  CHECK(want.Mark().line == got.Mark().line);
  CHECK(want.Mark().column == got.Mark().column);
  if (depth > 6) return;  // aliases of an ancestor are cycles in both
  if (want.IsScalar()) {
    CHECK(want.Scalar() == got.Scalar());
    CHECK(want.Tag() == got.Tag());
  }
  REQUIRE(want.size() == got.size());
  auto g = got.begin();
  for (auto w = want.begin(); w != want.end(); ++w, ++g) {
    REQUIRE(g != got.end());
    if (want.IsMap()) {
      same(w->first, g->first, depth + 1);
      same(w->second, g->second, depth + 1);
    } else {
      same(*w, *g, depth + 1);
    }
  }
  CHECK(g == got.end());
}

TEST_CASE("yaml::Document reads like YAML::Load") {
  const char* docs[] = {
      "",
      "~\n",
      "version: 1\n",
      "a: 'quoted'\nb: plain\nc: \"dq\"\nd:\ne: [1, two, 'three']\n",
      "defaults: &d\n  key: {path: a.key}\nsites:\n  - *d\n  - {name: x, <<: *d}\n",
      "a: 1\na: 2\n",  // duplicate keys stay two pairs
      "x: &self\n  y: *self\n",  // an alias of its own ancestor
      "- !!str 123\n- !custom value\n- ? complex\n  : key\n",
      "list:\n- a\n-\n- - nested\n  - deeper\n",
      "--- first\n...\n",
  };
  for (const char* text : docs) {
    CAPTURE(text);
    YAML::Node want = YAML::Load(text);
    auto doc = load_first_document(text);
    same(want, doc->root(), 0);
  }
}

TEST_CASE("yaml::Document: syntax errors throw like YAML::Load") {
  const char* bad = "a: [1, 2\nb: 3\n";
  CHECK_THROWS_AS(YAML::Load(bad), YAML::ParserException);
  CHECK_THROWS_AS(load_first_document(bad), YAML::ParserException);
}

}  // namespace
}  // namespace ecert::yaml
