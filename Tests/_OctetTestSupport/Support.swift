import Octet
