"""KnowledgeBase: the Bedrock knowledge base (type VECTOR, S3_VECTORS storage), one S3 data source per
document source, and the least-privilege service role Bedrock assumes to ingest and to retrieve.

The role (Bedrock user guide, "Create a service role for Amazon Bedrock Knowledge Bases"): trusted by
bedrock.amazonaws.com for knowledge bases of this account and Region only (aws:SourceAccount, and
aws:SourceArn like knowledge-base/*: the knowledge base's own ARN would be a circular reference, it names
the role); s3:ListBucket and s3:GetObject on the documents only; the five S3 Vectors actions Bedrock lists
for an S3 Vectors store (GetIndex, QueryVectors, PutVectors, GetVectors, DeleteVectors) on this index only;
bedrock:InvokeModel on the embedding model only. The stack's permissions boundary applies to it too.

Create-only properties ("Update requires: Replacement"), so changing them replaces the resource:
- AWS::Bedrock::KnowledgeBase: StorageConfiguration (the index), KnowledgeBaseConfiguration.Type and
  .VectorKnowledgeBaseConfiguration (embedding model, dimensions).
- AWS::Bedrock::DataSource: KnowledgeBaseId, VectorIngestionConfiguration.ChunkingConfiguration and
  .ParsingConfiguration, DataSourceConfiguration.Type.
CloudFormation creates the replacement before it deletes the old one, and a knowledge base's name is unique
in the account (a data source's in its knowledge base), so each name carries a hash of what its
create-only properties come from: a replacement gets a new name. A replaced data source has
DataDeletionPolicy DELETE, so its old chunks leave the index; the ingestion trigger follows the new id.
"""

from __future__ import annotations

import re

from aws_cdk import Stack
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from constructs import Construct

from liftoff.foundation.config import ChunkingConfig, KnowledgeConfig
from liftoff.foundation.names import digest
from stacks.constructs.knowledge_documents import DocumentSource
from stacks.constructs.vector_store import VectorStore
from stacks.nag import acknowledge

KB_NAME_MAX = 100  # ^([0-9a-zA-Z][_-]?){1,100}$ (CreateKnowledgeBase, CreateDataSource)
# Bedrock user guide, knowledge base service role: permissions to access a vector store in S3 Vectors
VECTOR_INDEX_ACTIONS = (
    "s3vectors:GetIndex",
    "s3vectors:QueryVectors",
    "s3vectors:PutVectors",
    "s3vectors:GetVectors",
    "s3vectors:DeleteVectors",
)
EMBEDDING_DATA_TYPE = "FLOAT32"  # the index's float32


def chunking_configuration(chunking: ChunkingConfig) -> dict:
    """`knowledge.chunking` as the data source's ChunkingConfiguration (the API's JSON names)."""
    if chunking.strategy == "fixed_size":
        return {
            "chunkingStrategy": "FIXED_SIZE",
            "fixedSizeChunkingConfiguration": {
                "maxTokens": chunking.max_tokens,
                "overlapPercentage": chunking.overlap_percentage,
            },
        }
    if chunking.strategy == "semantic":
        return {
            "chunkingStrategy": "SEMANTIC",
            "semanticChunkingConfiguration": {
                "maxTokens": chunking.max_tokens,
                "bufferSize": chunking.buffer_size,
                "breakpointPercentileThreshold": chunking.breakpoint_percentile_threshold,
            },
        }
    return {
        "chunkingStrategy": "HIERARCHICAL",
        "hierarchicalChunkingConfiguration": {
            # two levels, parent first (Bedrock API reference, HierarchicalChunkingConfiguration)
            "levelConfigurations": [
                {"maxTokens": chunking.parent_max_tokens},
                {"maxTokens": chunking.child_max_tokens},
            ],
            "overlapTokens": chunking.overlap_tokens,
        },
    }


def embedding_model_arn(stack: Stack, model_id: str) -> str:
    """The embedding model's foundation-model ARN in the stack's partition and Region."""
    return f"arn:{stack.partition}:bedrock:{stack.region}::foundation-model/{model_id}"


def bedrock_name(base: str, hashed: object) -> str:
    """`<base>-<hash of hashed>` within Bedrock's name rule (no two separators in a row, <= 100)."""
    suffix = "-" + digest(hashed)
    clean = re.sub(r"[^0-9a-zA-Z]+", "-", base).strip("-")
    return clean[: KB_NAME_MAX - len(suffix)].rstrip("-") + suffix


class KnowledgeBase(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        knowledge: KnowledgeConfig,
        sources: list[DocumentSource],
        vectors: VectorStore,
    ):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.embedding_model_arn = embedding_model_arn(stack, knowledge.embedding.model_id)
        self.role = self._build_role(sources, vectors)
        embedding = knowledge.embedding
        self.knowledge_base = bedrock.CfnKnowledgeBase(
            self,
            "KnowledgeBase",
            name=bedrock_name(name, {"model": embedding.model_id, "dimension": embedding.dimension}),
            description=f"Liftoff knowledge base of {name}",
            role_arn=self.role.role_arn,
            knowledge_base_configuration={
                "type": "VECTOR",
                "vectorKnowledgeBaseConfiguration": {
                    "embeddingModelArn": self.embedding_model_arn,
                    "embeddingModelConfiguration": {
                        "bedrockEmbeddingModelConfiguration": {
                            "dimensions": embedding.dimension,
                            "embeddingDataType": EMBEDDING_DATA_TYPE,
                        }
                    },
                },
            },
            storage_configuration={
                "type": "S3_VECTORS",
                "s3VectorsConfiguration": {
                    "indexArn": vectors.index.attr_index_arn,
                    "vectorBucketArn": vectors.bucket.attr_vector_bucket_arn,
                },
            },
        )
        # Bedrock checks at creation that the role reaches the index, and the data sources' deletion
        # (DataDeletionPolicy DELETE) needs the role's vector permissions: the role's policy goes last
        self.knowledge_base.node.add_dependency(self.role)
        chunking = chunking_configuration(knowledge.chunking)
        self.data_sources: dict[str, bedrock.CfnDataSource] = {}
        for source in sources:
            s3_configuration = {"bucketArn": source.bucket.bucket_arn}
            if source.prefix:
                s3_configuration["inclusionPrefixes"] = [source.prefix]
            self.data_sources[source.name] = bedrock.CfnDataSource(
                self,
                f"{source.name}DataSource",
                knowledge_base_id=self.knowledge_base.attr_knowledge_base_id,
                name=bedrock_name(f"{source.name}-documents", chunking),
                description=f"{source.name} documents of {name}"
                + (f" (s3://{source.bucket.bucket_name}/{source.prefix})" if source.name == "Existing" else ""),
                data_source_configuration={"type": "S3", "s3Configuration": s3_configuration},
                vector_ingestion_configuration={"chunkingConfiguration": chunking},
                data_deletion_policy="DELETE",
            )

    @property
    def arn(self) -> str:
        return self.knowledge_base.attr_knowledge_base_arn

    def _build_role(self, sources: list[DocumentSource], vectors: VectorStore) -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "ServiceRole",
            description="Bedrock knowledge base service role: reads the documents, embeds them, writes its index",
            assumed_by=iam.ServicePrincipal(
                "bedrock.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}:knowledge-base/*"
                    },
                },
            ),
        )
        own_account = {"StringEquals": {"aws:ResourceAccount": stack.account}}
        for sid, actions, resources in (
            ("ListDocuments", ["s3:ListBucket"], [s.bucket.bucket_arn for s in sources]),
            ("ReadDocuments", ["s3:GetObject"], [s.object_arns for s in sources]),
        ):
            role.add_to_policy(
                iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=own_account)
            )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseOwnVectorIndex",
                actions=list(VECTOR_INDEX_ACTIONS),
                resources=[vectors.index.attr_index_arn],
                conditions=own_account,
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EmbedWithConfiguredModel", actions=["bedrock:InvokeModel"], resources=[self.embedding_model_arn]
            )
        )
        for source in sources:
            # the role reads every document of its sources (the bucket's objects, or those under the prefix)
            resource = (
                f"<{stack.get_logical_id(source.bucket.node.default_child)}.Arn>/*"
                if source.name == "Repository"
                else f"arn:<AWS::Partition>:s3:::{source.bucket.bucket_name}/{source.prefix}*"
            )
            acknowledge(
                role,
                f"IAM5[Resource::{resource}]",
                "Bedrock ingests every document of its data source: s3:GetObject on the documents' keys, "
                "in that bucket (and under that prefix) only.",
            )
        return role
