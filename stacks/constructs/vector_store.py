"""VectorStore: the S3 Vectors vector bucket and the index the knowledge base writes its vectors to.

The index: the embedding model's dimension, cosine distance, float32 (the only data type S3 Vectors has),
and the two keys Bedrock writes into every vector's metadata, `AMAZON_BEDROCK_TEXT` (the chunk) and
`AMAZON_BEDROCK_METADATA`, declared non-filterable: filterable metadata is capped at 2 KB per vector, which
a 300-token chunk alone exceeds, so ingestion would fail otherwise. Encrypted with SSE-S3 (AES256).

Every property of both resources but their tags is create-only (AWS::S3Vectors::VectorBucket:
VectorBucketName, EncryptionConfiguration; AWS::S3Vectors::Index: DataType, Dimension, DistanceMetric,
EncryptionConfiguration, IndexName, MetadataConfiguration, VectorBucketArn, VectorBucketName: "Update
requires: Replacement"). CloudFormation names the bucket (a replacement never collides with the old one);
the index's name carries a hash of the embedding model and dimension, so a new model or dimension makes a
new, empty index instead of mixing vectors of two models, and the knowledge base is replaced with it.

Retention follows the stage: prod retains bucket and index (RemovalPolicy.RETAIN); sandbox deletes them.
A vector bucket can only be deleted empty, i.e. once its indexes are gone; an index can be deleted with
vectors in it (S3 Vectors user guide, "Deleting a vector index" / "Deleting an empty vector bucket"). The
index references the bucket, so CloudFormation deletes the index first and the bucket is empty by then."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_s3vectors as s3vectors
from constructs import Construct

from liftoff.foundation.config import EmbeddingConfig, StageConfig
from liftoff.foundation.names import digest

NON_FILTERABLE_KEYS = ("AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA")
DISTANCE_METRIC = "cosine"
DATA_TYPE = "float32"
SSE = "AES256"


def index_name(embedding: EmbeddingConfig) -> str:
    """kb-<hash of the model and dimension>: 3-63 of a-z, 0-9, '-' and '.'."""
    return f"kb-{digest({'model': embedding.model_id, 'dimension': embedding.dimension}, 12)}"


class VectorStore(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, embedding: EmbeddingConfig, stage: StageConfig):
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.DESTROY if stage.destroy_on_delete else RemovalPolicy.RETAIN
        self.bucket = s3vectors.CfnVectorBucket(
            self,
            "Bucket",
            encryption_configuration=s3vectors.CfnVectorBucket.EncryptionConfigurationProperty(sse_type=SSE),
        )
        self.bucket.apply_removal_policy(removal)
        self.index = s3vectors.CfnIndex(
            self,
            "Index",
            vector_bucket_arn=self.bucket.attr_vector_bucket_arn,
            index_name=index_name(embedding),
            data_type=DATA_TYPE,
            dimension=embedding.dimension,
            distance_metric=DISTANCE_METRIC,
            metadata_configuration=s3vectors.CfnIndex.MetadataConfigurationProperty(
                non_filterable_metadata_keys=list(NON_FILTERABLE_KEYS)
            ),
            encryption_configuration=s3vectors.CfnIndex.EncryptionConfigurationProperty(sse_type=SSE),
        )
        self.index.apply_removal_policy(removal)
