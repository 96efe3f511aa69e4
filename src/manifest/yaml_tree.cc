#include "manifest/yaml_tree.h"

#include <map>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

namespace ecert::yaml {

namespace {

const std::string& empty_string() {
  static const std::string empty;
  return empty;
}

// What yaml-cpp's NodeBuilder does, into NodeData.
class Builder : public YAML::EventHandler {
 public:
  explicit Builder(std::deque<NodeData>& nodes) : nodes_(nodes) {}
  const NodeData* root() const { return root_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    attach(make(YAML::NodeType::Null, mark, std::string(), anchor));
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw YAML::ParserException(mark, "unknown anchor");
    attach(it->second);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    NodeData* d = make(YAML::NodeType::Scalar, mark, tag, anchor);
    d->scalar = value;
    attach(d);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(make(YAML::NodeType::Sequence, mark, tag, anchor));
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(make(YAML::NodeType::Map, mark, tag, anchor));
  }
  void OnMapEnd() override { close(); }

 private:
  NodeData* make(YAML::NodeType::value type, const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor) {
    NodeData& d = nodes_.emplace_back();
    d.type = type;
    d.mark = mark;
    d.tag = tag;
    if (anchor != YAML::NullAnchor) anchors_[anchor] = &d;
    return &d;
  }
  void attach(const NodeData* d) {
    if (open_.empty()) {
      root_ = d;
    } else {
      open_.back()->children.push_back(d);
    }
  }
  void open(NodeData* d) {
    attach(d);
    open_.push_back(d);
  }
  void close() {
    open_.back()->children.shrink_to_fit();
    open_.pop_back();
  }

  std::deque<NodeData>& nodes_;
  std::vector<NodeData*> open_;
  std::map<YAML::anchor_t, const NodeData*> anchors_;
  const NodeData* root_ = nullptr;
};

}  // namespace

const std::string& Node::Scalar() const { return d_ ? d_->scalar : empty_string(); }

const std::string& Node::Tag() const { return d_ ? d_->tag : empty_string(); }

std::size_t Node::size() const {
  if (IsSequence()) return d_->children.size();
  if (IsMap()) return d_->children.size() / 2;
  return 0;
}

Node::iterator Node::begin() const { return iterator(IsSequence() || IsMap() ? d_ : nullptr, 0); }

Node::iterator Node::end() const {
  return iterator(IsSequence() || IsMap() ? d_ : nullptr, IsSequence() || IsMap() ? d_->children.size() : 0);
}

Node::Item Node::iterator::operator*() const {
  if (d_->type == YAML::NodeType::Map) return Item(Node(), Node(d_->children[i_]), Node(d_->children[i_ + 1]));
  return Item(Node(d_->children[i_]), Node(), Node());
}

std::unique_ptr<Document> load_first_document(const std::string& text) {
  auto doc = std::make_unique<Document>();
  std::stringstream stream(text);
  YAML::Parser parser(stream);
  Builder builder(doc->nodes_);
  if (parser.HandleNextDocument(builder)) doc->root_ = builder.root();
  return doc;
}

}  // namespace ecert::yaml
