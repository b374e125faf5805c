def test_it_starts_with_no_images_of_its_own(aws):
    ec2 = aws.client("ec2")
    assert ec2.describe_images(Owners=["self"])["Images"] == []
