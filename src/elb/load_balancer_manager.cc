// LoadBalancerManager: the core (commit, persistence, start), load balancers, listeners, rules
// and tags. Target groups and their targets are in target_registry.cc.
#include "skiff/elb/load_balancer_manager.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "elb/errors.h"
#include "elb/paging.h"
#include "skiff/base/check.h"
#include "spdlog/spdlog.h"
#include "skiff/base/status_macros.h"
#include "skiff/elb/listeners.h"
#include "skiff/elb/rules.h"

namespace skiff::elb {
namespace {

using namespace elbv2::v1;  // NOLINT: every shape of the API is used here.

constexpr int kMaxRulesPerListener = 100;
constexpr int kMaxTags = 50;

template <typename Map>
void PersistKind(const Map& before, const Map& after, const char* kind,
                 std::vector<store::StoredElbObject>* puts, std::vector<std::string>* deletes) {
  for (const auto& [arn, record] : after) {
    std::string body = EncodeRecord(record);
    auto old = before.find(arn);
    if (old == before.end() || EncodeRecord(old->second) != body) {
      puts->push_back({.arn = arn, .kind = kind, .body = std::move(body)});
    }
  }
  for (const auto& [arn, record] : before) {
    if (!after.contains(arn)) deletes->push_back(arn);
  }
}

template <typename Record>
absl::Status LoadKind(const store::StoredElbObject& object,
                      std::map<std::string, Record>* records) {
  Record record;
  absl::Status s = DecodeRecord(object.body, &record);
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat("stored ", object.kind, " ", object.arn, ": ",
                                            s.message()));
  }
  records->emplace(object.arn, std::move(record));
  return absl::OkStatus();
}

absl::Status CheckTags(const google::protobuf::RepeatedPtrField<Tag>& tags,
                       const std::vector<Tag>& existing) {
  std::set<std::string> keys;
  for (const Tag& t : existing) keys.insert(t.key());
  for (int i = 0; i < tags.size(); ++i) {
    const std::string at = absl::StrCat("Tags[", i, "]");
    if (tags[i].key().empty() || tags[i].key().size() > 128) {
      return Invalid(absl::StrCat(at, ".Key: must be 1-128 characters"));
    }
    if (tags[i].value().size() > 256) {
      return Invalid(absl::StrCat(at, ".Value: must be at most 256 characters"));
    }
    if (absl::StartsWith(tags[i].key(), "aws:")) {
      return Invalid(absl::StrCat(at, ".Key: the prefix 'aws:' is reserved"));
    }
    keys.insert(tags[i].key());
  }
  if (keys.size() > kMaxTags) {
    return ElbError(absl::StatusCode::kInvalidArgument, kTooManyTags,
                    absl::StrCat("Tags: a resource has at most ", kMaxTags, " tags"));
  }
  return absl::OkStatus();
}

void MergeTags(const google::protobuf::RepeatedPtrField<Tag>& tags, std::vector<Tag>* into) {
  for (const Tag& tag : tags) {
    auto same = std::find_if(into->begin(), into->end(),
                             [&](const Tag& t) { return t.key() == tag.key(); });
    if (same != into->end()) {
      *same = tag;
    } else {
      into->push_back(tag);
    }
  }
}

// The rule ELBv2 shows for a listener's default actions.
Rule DefaultRule(const Listener& listener) {
  Rule rule;
  rule.set_rule_arn(RuleArn(listener.listener_arn(), "default"));
  rule.set_priority("default");
  *rule.mutable_actions() = listener.default_actions();
  rule.set_is_default(true);
  return rule;
}

// The listener whose default rule `rule_arn` names, or null.
const Listener* ListenerOfDefaultRule(const ElbState& state, const std::string& rule_arn) {
  for (const auto& [arn, l] : state.listeners) {
    if (DefaultRule(l.listener).rule_arn() == rule_arn) return &l.listener;
  }
  return nullptr;
}

}  // namespace

LoadBalancerManager::LoadBalancerManager(LoadBalancerManagerOptions options, store::Store* store,
                                         scheduler::EventLoop* loop, const Clock* clock,
                                         RandomSource* random, DataPlane* data_plane,
                                         PortProbe port_probe)
    : options_(std::move(options)),
      store_(store),
      loop_(loop),
      clock_(clock),
      random_(random),
      data_plane_(data_plane),
      port_probe_(std::move(port_probe)) {
  drain_timer_ = loop_->CreateTimer([this] { FinishDrains(); });
}

LoadBalancerManager::~LoadBalancerManager() = default;

std::string LoadBalancerManager::NewId() { return RandomHex(*random_, 16); }

absl::Status LoadBalancerManager::Start() {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::StoredElbObject> objects, store_->LoadElbObjects());
  ElbState loaded;
  for (const store::StoredElbObject& o : objects) {
    if (o.kind == "loadbalancer") {
      SKIFF_RETURN_IF_ERROR(LoadKind(o, &loaded.load_balancers));
    } else if (o.kind == "listener") {
      SKIFF_RETURN_IF_ERROR(LoadKind(o, &loaded.listeners));
    } else if (o.kind == "rule") {
      SKIFF_RETURN_IF_ERROR(LoadKind(o, &loaded.rules));
    } else if (o.kind == "targetgroup") {
      SKIFF_RETURN_IF_ERROR(LoadKind(o, &loaded.target_groups));
    } else {
      return absl::DataLossError(absl::StrCat("stored ELBv2 object ", o.arn, " of kind ", o.kind));
    }
  }
  // A crash between the writes of one delete may leave listeners or rules of a deleted parent.
  ElbState next = loaded;
  std::erase_if(next.listeners, [&](const auto& l) {
    return !next.load_balancers.contains(l.second.listener.load_balancer_arn());
  });
  std::erase_if(next.rules,
                [&](const auto& r) { return !next.listeners.contains(r.second.listener_arn); });
  state_ = std::move(loaded);
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  spdlog::info("load balancing: {} load balancers, {} listeners, {} target groups",
                 state_.load_balancers.size(), state_.listeners.size(),
                 state_.target_groups.size());
  return absl::OkStatus();
}

absl::Status LoadBalancerManager::Persist(const ElbState& next) {
  std::vector<store::StoredElbObject> puts;
  std::vector<std::string> deletes;
  PersistKind(state_.load_balancers, next.load_balancers, "loadbalancer", &puts, &deletes);
  PersistKind(state_.listeners, next.listeners, "listener", &puts, &deletes);
  PersistKind(state_.rules, next.rules, "rule", &puts, &deletes);
  PersistKind(state_.target_groups, next.target_groups, "targetgroup", &puts, &deletes);
  // Parents first on the way in, children first on the way out (Start drops orphans).
  for (const auto& put : puts) SKIFF_RETURN_IF_ERROR(store_->PutElbObject(put));
  for (auto it = deletes.rbegin(); it != deletes.rend(); ++it) {
    SKIFF_RETURN_IF_ERROR(store_->DeleteElbObject(*it));
  }
  return absl::OkStatus();
}

absl::Status LoadBalancerManager::Commit(ElbState next, bool check) {
  absl::StatusOr<lb::DataPlane> plane = BuildDataPlane(
      next, options_.listen_address, fail_open_, options_.service_connect_address);
  if (!plane.ok()) return plane.status();
  if (check) SKIFF_RETURN_IF_ERROR(data_plane_->Check(*plane));
  SKIFF_RETURN_IF_ERROR(Persist(next));
  state_ = std::move(next);
  data_plane_->Want(*std::move(plane), ++generation_);
  ArmDrainTimer();
  return absl::OkStatus();
}

// ---- Load balancers ----

absl::StatusOr<CreateLoadBalancerOutput> LoadBalancerManager::CreateLoadBalancer(
    const CreateLoadBalancerInput& in) {
  SKIFF_RETURN_IF_ERROR(CheckTags(in.tags(), {}));
  SKIFF_ASSIGN_OR_RETURN(
      LoadBalancer lb,
      NewLoadBalancer(in, options_.scope, NewId(),
                      {.created_at = absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch()),
                       .dns_name = options_.dns_name}));
  CreateLoadBalancerOutput out;
  for (const auto& [arn, record] : state_.load_balancers) {
    if (record.load_balancer.load_balancer_name() != lb.load_balancer_name()) continue;
    // ELBv2 returns the load balancer when it exists with the same settings.
    if (record.load_balancer.type() != lb.type() || record.load_balancer.scheme() != lb.scheme()) {
      return ElbError(absl::StatusCode::kAlreadyExists, kDuplicateLoadBalancerName,
                      absl::StrCat("A load balancer with the same name '",
                                   lb.load_balancer_name(), "' exists, with other settings"));
    }
    *out.add_load_balancers() = record.load_balancer;
    return out;
  }
  ElbState next = state_;
  LoadBalancerRecord& record = next.load_balancers[lb.load_balancer_arn()];
  record.load_balancer = lb;
  record.tags.assign(in.tags().begin(), in.tags().end());
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  *out.add_load_balancers() = std::move(lb);
  return out;
}

absl::StatusOr<DescribeLoadBalancersOutput> LoadBalancerManager::DescribeLoadBalancers(
    const DescribeLoadBalancersInput& in) {
  if (in.load_balancer_arns_size() > 0 && in.names_size() > 0) {
    return Invalid("LoadBalancerArns and Names cannot be used together");
  }
  std::vector<const LoadBalancer*> found;
  for (const std::string& arn : in.load_balancer_arns()) {
    auto it = state_.load_balancers.find(arn);
    if (it == state_.load_balancers.end()) return LoadBalancerNotFound(arn);
    found.push_back(&it->second.load_balancer);
  }
  for (const std::string& name : in.names()) {
    const LoadBalancer* match = nullptr;
    for (const auto& [arn, r] : state_.load_balancers) {
      if (r.load_balancer.load_balancer_name() == name) match = &r.load_balancer;
    }
    if (match == nullptr) return LoadBalancerNotFound(name);
    found.push_back(match);
  }
  if (in.load_balancer_arns_size() == 0 && in.names_size() == 0) {
    for (const auto& [arn, r] : state_.load_balancers) found.push_back(&r.load_balancer);
  }
  DescribeLoadBalancersOutput out;
  SKIFF_RETURN_IF_ERROR(Paginate(found, in.marker(), in.page_size(), in.has_page_size(), &out,
                                 [&](const LoadBalancer* lb) { *out.add_load_balancers() = *lb; }));
  return out;
}

absl::StatusOr<DeleteLoadBalancerOutput> LoadBalancerManager::DeleteLoadBalancer(
    const DeleteLoadBalancerInput& in) {
  // Deleting what is not there succeeds, as in ELBv2.
  if (!state_.load_balancers.contains(in.load_balancer_arn())) return DeleteLoadBalancerOutput{};
  ElbState next = state_;
  next.load_balancers.erase(in.load_balancer_arn());
  std::erase_if(next.listeners, [&](const auto& l) {
    return l.second.listener.load_balancer_arn() == in.load_balancer_arn();
  });
  std::erase_if(next.rules,
                [&](const auto& r) { return !next.listeners.contains(r.second.listener_arn); });
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  return DeleteLoadBalancerOutput{};
}

// ---- Listeners ----

BackendResolver LoadBalancerManager::ResolverFor(const ElbState& state, const std::string& lb_arn,
                                                 bool tcp) const {
  return [&state, lb_arn, tcp](const std::string& arn) -> absl::StatusOr<std::string> {
    auto it = state.target_groups.find(arn);
    if (it == state.target_groups.end()) return state.BackendOf(arn);
    if (it->second.internal()) return TargetGroupNotFound(arn);
    const std::string& protocol = it->second.group.protocol();
    if ((protocol == "TCP") != tcp) {
      return Invalid(absl::StrCat("Target group '", arn, "' uses protocol ", protocol,
                                  ", which the listener's protocol cannot forward to"));
    }
    for (const std::string& other : state.LoadBalancersOf(arn)) {
      if (other != lb_arn) {
        return ElbError(absl::StatusCode::kInvalidArgument, kTargetGroupAssociationLimit,
                        absl::StrCat("The following target groups cannot be associated with "
                                     "more than one load balancer: ", arn));
      }
    }
    return it->second.BackendName();
  };
}

absl::Status LoadBalancerManager::CheckPort(const std::string& lb_arn, int port,
                                            const std::string& except_listener) {
  for (const auto& [arn, l] : state_.listeners) {
    if (arn == except_listener || l.listener.port() != port) continue;
    if (l.listener.load_balancer_arn() == lb_arn) {
      return ElbError(absl::StatusCode::kAlreadyExists, kDuplicateListener,
                      absl::StrCat("A listener already exists on port ", port,
                                   " for this load balancer"));
    }
    return Invalid(absl::StrCat("Port: ", port, " is already used by listener ", arn));
  }
  for (const auto& [arn, group] : state_.target_groups) {
    if (group.internal() && group.group.port() == port) {
      return Invalid(absl::StrCat("Port: ", port, " is used by the Service Connect alias ",
                                  group.alias->dns_name, " of ECS service ", group.alias->owner));
    }
  }
  absl::Status free = port_probe_(options_.listen_address, port);
  if (!free.ok()) {
    return Invalid(absl::StrCat("Port: ", options_.listen_address, ":", port,
                                " cannot be bound on this node: ", free.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<CreateListenerOutput> LoadBalancerManager::CreateListener(
    const CreateListenerInput& in) {
  auto lb = state_.load_balancers.find(in.load_balancer_arn());
  if (lb == state_.load_balancers.end()) return LoadBalancerNotFound(in.load_balancer_arn());
  SKIFF_RETURN_IF_ERROR(CheckTags(in.tags(), {}));
  const bool tcp = lb->second.load_balancer.type() == "network";
  SKIFF_ASSIGN_OR_RETURN(Listener listener,
                         NewListener(in, lb->second.load_balancer, NewId(),
                                     ResolverFor(state_, in.load_balancer_arn(), tcp)));
  SKIFF_RETURN_IF_ERROR(CheckPort(in.load_balancer_arn(), listener.port(), ""));
  ElbState next = state_;
  ListenerRecord& record = next.listeners[listener.listener_arn()];
  record.listener = listener;
  record.tags.assign(in.tags().begin(), in.tags().end());
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/true));
  CreateListenerOutput out;
  *out.add_listeners() = std::move(listener);
  return out;
}

absl::StatusOr<DescribeListenersOutput> LoadBalancerManager::DescribeListeners(
    const DescribeListenersInput& in) {
  std::vector<const Listener*> found;
  if (in.has_load_balancer_arn() == (in.listener_arns_size() > 0)) {
    return Invalid("give either LoadBalancerArn or ListenerArns");
  }
  if (in.has_load_balancer_arn()) {
    if (!state_.load_balancers.contains(in.load_balancer_arn())) {
      return LoadBalancerNotFound(in.load_balancer_arn());
    }
    for (const auto& [arn, l] : state_.listeners) {
      if (l.listener.load_balancer_arn() == in.load_balancer_arn()) found.push_back(&l.listener);
    }
  }
  for (const std::string& arn : in.listener_arns()) {
    auto it = state_.listeners.find(arn);
    if (it == state_.listeners.end()) return ListenerNotFound(arn);
    found.push_back(&it->second.listener);
  }
  DescribeListenersOutput out;
  SKIFF_RETURN_IF_ERROR(Paginate(found, in.marker(), in.page_size(), in.has_page_size(), &out,
                                 [&](const Listener* l) { *out.add_listeners() = *l; }));
  return out;
}

absl::StatusOr<ModifyListenerOutput> LoadBalancerManager::ModifyListener(
    const ModifyListenerInput& in) {
  auto it = state_.listeners.find(in.listener_arn());
  if (it == state_.listeners.end()) return ListenerNotFound(in.listener_arn());
  const Listener& current = it->second.listener;
  const LoadBalancer& lb = state_.load_balancers.at(current.load_balancer_arn()).load_balancer;
  SKIFF_ASSIGN_OR_RETURN(
      Listener listener,
      ModifiedListener(current, in, lb,
                       ResolverFor(state_, lb.load_balancer_arn(), lb.type() == "network")));
  if (listener.port() != current.port()) {
    SKIFF_RETURN_IF_ERROR(CheckPort(lb.load_balancer_arn(), listener.port(), in.listener_arn()));
  }
  ElbState next = state_;
  next.listeners[in.listener_arn()].listener = listener;
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/true));
  ModifyListenerOutput out;
  *out.add_listeners() = std::move(listener);
  return out;
}

absl::StatusOr<DeleteListenerOutput> LoadBalancerManager::DeleteListener(
    const DeleteListenerInput& in) {
  if (!state_.listeners.contains(in.listener_arn())) return ListenerNotFound(in.listener_arn());
  ElbState next = state_;
  next.listeners.erase(in.listener_arn());
  std::erase_if(next.rules,
                [&](const auto& r) { return r.second.listener_arn == in.listener_arn(); });
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  return DeleteListenerOutput{};
}

// ---- Rules ----

absl::Status LoadBalancerManager::CheckRule(const ElbState& state, const Rule& rule,
                                            const Listener& listener) const {
  if (listener.protocol() != "HTTP") {
    return Invalid(absl::StrCat("ListenerArn: rules need an HTTP listener; ",
                                listener.listener_arn(), " is ", listener.protocol()));
  }
  SKIFF_RETURN_IF_ERROR(ConditionsOf(rule.conditions()).status());
  return ActionOf(rule.actions(), "Actions", false,
                  ResolverFor(state, listener.load_balancer_arn(), false))
      .status();
}

absl::StatusOr<CreateRuleOutput> LoadBalancerManager::CreateRule(const CreateRuleInput& in) {
  auto listener = state_.listeners.find(in.listener_arn());
  if (listener == state_.listeners.end()) return ListenerNotFound(in.listener_arn());
  if (!in.has_priority()) return Invalid("Priority: required");
  if (in.priority() < 1 || in.priority() > 50000) {
    return OutOfRange("Priority", in.priority(), 1, 50000);
  }
  SKIFF_RETURN_IF_ERROR(CheckTags(in.tags(), {}));
  if (in.transforms_size() > 0) return Invalid("Transforms: not supported on a skiff node");
  int count = 0;
  for (const auto& [arn, r] : state_.rules) {
    if (r.listener_arn != in.listener_arn()) continue;
    ++count;
    if (r.rule.priority() == absl::StrCat(in.priority())) {
      return ElbError(absl::StatusCode::kAlreadyExists, kPriorityInUse,
                      absl::StrCat("Priority '", in.priority(), "' is currently in use"));
    }
  }
  if (count >= kMaxRulesPerListener) {
    return ElbError(absl::StatusCode::kResourceExhausted, kTooManyRules,
                    absl::StrCat("A listener has at most ", kMaxRulesPerListener, " rules"));
  }
  Rule rule;
  rule.set_rule_arn(RuleArn(in.listener_arn(), NewId()));
  rule.set_priority(absl::StrCat(in.priority()));
  *rule.mutable_conditions() = in.conditions();
  *rule.mutable_actions() = in.actions();
  rule.set_is_default(false);
  SKIFF_RETURN_IF_ERROR(CheckRule(state_, rule, listener->second.listener));
  ElbState next = state_;
  RuleRecord& record = next.rules[rule.rule_arn()];
  record.rule = rule;
  record.listener_arn = in.listener_arn();
  record.tags.assign(in.tags().begin(), in.tags().end());
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/true));
  CreateRuleOutput out;
  *out.add_rules() = std::move(rule);
  return out;
}

absl::StatusOr<DescribeRulesOutput> LoadBalancerManager::DescribeRules(
    const DescribeRulesInput& in) {
  if (in.has_listener_arn() == (in.rule_arns_size() > 0)) {
    return Invalid("give either ListenerArn or RuleArns");
  }
  std::vector<Rule> found;
  if (in.has_listener_arn()) {
    auto listener = state_.listeners.find(in.listener_arn());
    if (listener == state_.listeners.end()) return ListenerNotFound(in.listener_arn());
    for (const auto& [arn, r] : state_.rules) {
      if (r.listener_arn == in.listener_arn()) found.push_back(r.rule);
    }
    std::sort(found.begin(), found.end(), [](const Rule& a, const Rule& b) {
      int pa = 0, pb = 0;
      return absl::SimpleAtoi(a.priority(), &pa) && absl::SimpleAtoi(b.priority(), &pb) &&
             pa < pb;
    });
    found.push_back(DefaultRule(listener->second.listener));
  }
  for (const std::string& arn : in.rule_arns()) {
    auto it = state_.rules.find(arn);
    if (it != state_.rules.end()) {
      found.push_back(it->second.rule);
      continue;
    }
    const Listener* listener = ListenerOfDefaultRule(state_, arn);
    if (listener == nullptr) return RuleNotFound(arn);
    found.push_back(DefaultRule(*listener));
  }
  DescribeRulesOutput out;
  SKIFF_RETURN_IF_ERROR(Paginate(found, in.marker(), in.page_size(), in.has_page_size(), &out,
                                 [&](const Rule& r) { *out.add_rules() = r; }));
  return out;
}

absl::StatusOr<ModifyRuleOutput> LoadBalancerManager::ModifyRule(const ModifyRuleInput& in) {
  auto it = state_.rules.find(in.rule_arn());
  if (it == state_.rules.end()) {
    if (ListenerOfDefaultRule(state_, in.rule_arn()) == nullptr) return RuleNotFound(in.rule_arn());
    return ElbError(absl::StatusCode::kFailedPrecondition, kOperationNotPermitted,
                    "The default rule is changed with ModifyListener's DefaultActions");
  }
  if (in.transforms_size() > 0) return Invalid("Transforms: not supported on a skiff node");
  Rule rule = it->second.rule;
  if (in.conditions_size() > 0) *rule.mutable_conditions() = in.conditions();
  if (in.actions_size() > 0) *rule.mutable_actions() = in.actions();
  SKIFF_RETURN_IF_ERROR(CheckRule(state_, rule, state_.listeners.at(it->second.listener_arn)
                                                    .listener));
  ElbState next = state_;
  next.rules[in.rule_arn()].rule = rule;
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/true));
  ModifyRuleOutput out;
  *out.add_rules() = std::move(rule);
  return out;
}

absl::StatusOr<DeleteRuleOutput> LoadBalancerManager::DeleteRule(const DeleteRuleInput& in) {
  if (!state_.rules.contains(in.rule_arn())) {
    if (ListenerOfDefaultRule(state_, in.rule_arn()) == nullptr) return RuleNotFound(in.rule_arn());
    return ElbError(absl::StatusCode::kFailedPrecondition, kOperationNotPermitted,
                    "A listener's default rule cannot be deleted");
  }
  ElbState next = state_;
  next.rules.erase(in.rule_arn());
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  return DeleteRuleOutput{};
}

// ---- Tags ----

std::vector<Tag>* LoadBalancerManager::TagsOf(ElbState& state, const std::string& arn) {
  if (auto it = state.load_balancers.find(arn); it != state.load_balancers.end()) {
    return &it->second.tags;
  }
  if (auto it = state.target_groups.find(arn);
      it != state.target_groups.end() && !it->second.internal()) {
    return &it->second.tags;
  }
  if (auto it = state.listeners.find(arn); it != state.listeners.end()) return &it->second.tags;
  if (auto it = state.rules.find(arn); it != state.rules.end()) return &it->second.tags;
  return nullptr;
}

absl::StatusOr<AddTagsOutput> LoadBalancerManager::AddTags(const AddTagsInput& in) {
  if (in.resource_arns_size() == 0) return Invalid("ResourceArns: required");
  ElbState next = state_;
  for (const std::string& arn : in.resource_arns()) {
    std::vector<Tag>* tags = TagsOf(next, arn);
    if (tags == nullptr) return ResourceNotFound(arn);
    SKIFF_RETURN_IF_ERROR(CheckTags(in.tags(), *tags));
    MergeTags(in.tags(), tags);
  }
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  return AddTagsOutput{};
}

absl::StatusOr<DescribeTagsOutput> LoadBalancerManager::DescribeTags(
    const DescribeTagsInput& in) {
  if (in.resource_arns_size() == 0) return Invalid("ResourceArns: required");
  if (in.resource_arns_size() > 20) {
    return OutOfRange("ResourceArns", in.resource_arns_size(), 1, 20);
  }
  DescribeTagsOutput out;
  for (const std::string& arn : in.resource_arns()) {
    std::vector<Tag>* tags = TagsOf(state_, arn);
    if (tags == nullptr) return ResourceNotFound(arn);
    TagDescription* d = out.add_tag_descriptions();
    d->set_resource_arn(arn);
    for (const Tag& t : *tags) *d->add_tags() = t;
  }
  return out;
}

absl::StatusOr<RemoveTagsOutput> LoadBalancerManager::RemoveTags(const RemoveTagsInput& in) {
  if (in.resource_arns_size() == 0) return Invalid("ResourceArns: required");
  ElbState next = state_;
  for (const std::string& arn : in.resource_arns()) {
    std::vector<Tag>* tags = TagsOf(next, arn);
    if (tags == nullptr) return ResourceNotFound(arn);
    std::erase_if(*tags, [&](const Tag& t) {
      return std::find(in.tag_keys().begin(), in.tag_keys().end(), t.key()) != in.tag_keys().end();
    });
  }
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  return RemoveTagsOutput{};
}

absl::Status ProbePort(const std::string& address, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4 address: ", address));
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(std::strerror(errno));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // An address no interface has yet (Service Connect's, the bridge's gateway) can be probed.
  setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
  const int bound = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int error = errno;
  close(fd);
  if (bound != 0) return absl::UnavailableError(std::strerror(error));
  return absl::OkStatus();
}

}  // namespace skiff::elb
