"""Key material for PII redaction: the HMAC key (Secrets Manager) and the pseudonym vault.

Both are encrypted with the platform key. Only the `api` function, which redacts and
re-identifies, is granted access.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge
from infra.state import encrypted_table


class PiiKeyMaterial(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.hmac_key = secretsmanager.Secret(
            self,
            "HmacKey",
            description="Sluice: key for keyed hashes and pseudonyms of personal data",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.hmac_key,
            "AwsSolutions-SMG4",
            "Rotating this key would change every hash and pseudonym, breaking joins and re-identification; "
            "rotation is a planned migration, not a schedule",
        )
        # pk = "<tenant>#<token>"; holds original values, so it is encrypted and retained like the jobs table.
        self.vault = encrypted_table(
            self, "PseudonymVault", key=key, removal_policy=removal_policy, partition_key="pk"
        )

    def grant_redact_and_reveal(self, grantee: iam.IGrantable) -> None:
        self.hmac_key.grant_read(grantee)
        self.vault.grant(grantee, "dynamodb:GetItem", "dynamodb:PutItem")
