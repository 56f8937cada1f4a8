#include "api/secrets_operations.h"

#include <string>
#include <vector>

#include "skiff/secretsmanager/v1/service.pb.h"
#include "skiff/ssm/v1/service.pb.h"

namespace skiff::api {

// As for ELBv2 (elbv2_operations.cc): service.pb.cc holds no message, so a static link would
// leave the services' descriptors out unless something refers to them.
extern const void* const kSecretsManagerServiceFile;
const void* const kSecretsManagerServiceFile =
    &descriptor_table_skiff_2fsecretsmanager_2fv1_2fservice_2eproto;
extern const void* const kSsmServiceFile;
const void* const kSsmServiceFile = &descriptor_table_skiff_2fssm_2fv1_2fservice_2eproto;

OperationTable SecretsManagerOperations(secrets::SecretsManager* manager) {
  using secrets::SecretsManager;
  auto* m = manager;
  return OperationTable(std::vector<Operation>{
      Row("CreateSecret", m, &SecretsManager::CreateSecret),
      Row("PutSecretValue", m, &SecretsManager::PutSecretValue),
      Row("GetSecretValue", m, &SecretsManager::GetSecretValue),
      Row("DescribeSecret", m, &SecretsManager::DescribeSecret),
      Row("ListSecrets", m, &SecretsManager::ListSecrets),
      Row("DeleteSecret", m, &SecretsManager::DeleteSecret),
  });
}

OperationTable SsmOperations(secrets::ParameterStore* store) {
  using secrets::ParameterStore;
  auto* s = store;
  return OperationTable(std::vector<Operation>{
      Row("PutParameter", s, &ParameterStore::PutParameter),
      Row("GetParameter", s, &ParameterStore::GetParameter),
      Row("GetParameters", s, &ParameterStore::GetParameters),
      Row("GetParametersByPath", s, &ParameterStore::GetParametersByPath),
      Row("DeleteParameter", s, &ParameterStore::DeleteParameter),
  });
}

AwsService SecretsManagerService(const OperationTable* operations) {
  return {.target_prefix = "secretsmanager",
          .signing_name = "secretsmanager",
          .operations = operations,
          .server_faults = {std::string(secrets::kInternalServiceError)},
          .invalid_request = secrets::kSmInvalidParameterException};
}

AwsService SsmService(const OperationTable* operations) {
  return {.target_prefix = "AmazonSSM",
          .signing_name = "ssm",
          .operations = operations,
          .server_faults = {std::string(secrets::kInternalServerError)},
          .invalid_request = secrets::kValidationException};
}

}  // namespace skiff::api
