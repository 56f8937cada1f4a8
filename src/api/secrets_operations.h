// The rows of the Secrets Manager API (gRPC service skiff.secretsmanager.v1.SecretsManager,
// X-Amz-Target secretsmanager.<Op> over HTTP) and of the SSM Parameter Store API (gRPC
// skiff.ssm.v1.Ssm, X-Amz-Target AmazonSSM.<Op>), bound to the node's stores. Private to the
// api component.
#ifndef SKIFF_SRC_API_SECRETS_OPERATIONS_H_
#define SKIFF_SRC_API_SECRETS_OPERATIONS_H_

#include "api/aws_json.h"
#include "api/operation_table.h"
#include "skiff/secrets/parameter_store.h"
#include "skiff/secrets/secrets_manager.h"

namespace skiff::api {

// The managers run the rows on the loop and outlive the tables; null is fine for a table that
// is only checked against the service.
OperationTable SecretsManagerOperations(secrets::SecretsManager* manager);
OperationTable SsmOperations(secrets::ParameterStore* store);

// Over `operations`: AWS JSON 1.1, SigV4 service secretsmanager / ssm.
AwsService SecretsManagerService(const OperationTable* operations);
AwsService SsmService(const OperationTable* operations);

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_SECRETS_OPERATIONS_H_
